//! The viewer's proxy credentials and where to send traffic, and regenerating the password.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Everything a customer needs to configure a proxy client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyAccess {
    /// The proxy username (targeting parameters are appended to it with `-`).
    pub username: String,
    /// The proxy password.
    pub password: String,
    /// `host:port` of the HTTP proxy.
    pub http_proxy: String,
    /// `host:port` of the SOCKS5 proxy.
    pub socks_proxy: String,
}

/// The signed-in account's proxy credentials.
#[server(endpoint = "credentials")]
pub async fn my_credentials() -> Result<ProxyAccess, ServerFnError> {
    let (db, account) = crate::api::access::signed_in()?;
    let creds = match store::credentials::by_account(&db, account).await {
        Ok(Some(creds)) => creds,
        // Accounts made before credentials existed get theirs on first view; when two first
        // views race, the one that lost the insert reads what the other made.
        Ok(None) => match store::credentials::create(&db, account, store::now_ms()).await {
            Ok(creds) => creds,
            Err(store::StoreError::Conflict(_)) => store::credentials::by_account(&db, account)
                .await
                .map_err(ssr::internal)?
                .ok_or_else(|| {
                    ServerFnError::new("your proxy credentials are unavailable right now")
                })?,
            Err(e) => return Err(ssr::internal(e)),
        },
        Err(e) => return Err(ssr::internal(e)),
    };
    Ok(ssr::access(creds))
}

/// Replaces the proxy password; the gateway stops accepting the old one within a second.
#[server(endpoint = "credentials/regenerate")]
pub async fn regenerate_credentials() -> Result<ProxyAccess, ServerFnError> {
    let (db, account) = crate::api::access::signed_in()?;
    let creds = store::credentials::regenerate(&db, account, store::now_ms())
        .await
        .map_err(ssr::internal)?;
    if let Some(refresh) = use_context::<super::session::ssr::GatewayRefresh>() {
        (refresh.0)();
    }
    let event = store::activity::NewActivity::new(Some(account), "credentials.regenerated");
    if let Err(error) = store::activity::record(&db, &event, store::now_ms()).await {
        tracing::warn!(%error, "recording activity failed");
    }
    Ok(ssr::access(creds))
}

#[cfg(feature = "ssr")]
mod ssr {
    use leptos::prelude::*;

    use super::ProxyAccess;
    use crate::api::session::ssr::ProxyEndpoints;

    /// Logs the detail, tells the client only that it failed.
    pub fn internal(error: store::StoreError) -> ServerFnError {
        tracing::error!(%error, "proxy credentials request failed");
        ServerFnError::new("your proxy credentials are unavailable right now")
    }

    pub fn access(creds: store::credentials::ProxyCredentials) -> ProxyAccess {
        let endpoints = use_context::<ProxyEndpoints>().unwrap_or_default();
        ProxyAccess {
            username: creds.username,
            password: creds.secret,
            http_proxy: endpoints.http,
            socks_proxy: endpoints.socks,
        }
    }
}
