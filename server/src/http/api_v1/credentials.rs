//! `GET /credentials` and `POST /credentials/regenerate`: the proxy credentials and where
//! to send traffic.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::problem::{ApiResult, Problem};
use super::responses::{Reads, Writes};
use crate::state::AppState;

/// The proxy credentials and where to send traffic.
#[derive(Serialize, ToSchema)]
pub struct CredentialsView {
    /// The proxy username (targeting parameters are appended with `-`).
    username: String,
    /// The proxy password.
    password: String,
    /// `host:port` of the HTTP proxy.
    http_proxy: String,
    /// `host:port` of the SOCKS5 proxy.
    socks_proxy: String,
}

fn credentials_view(
    state: &AppState,
    creds: store::credentials::ProxyCredentials,
) -> CredentialsView {
    let endpoints = crate::http::pages::proxy_endpoints(state);
    CredentialsView {
        username: creds.username,
        password: creds.secret,
        http_proxy: endpoints.http,
        socks_proxy: endpoints.socks,
    }
}

/// The proxy credentials.
#[utoipa::path(
    get, path = "/credentials", tag = "credentials", security(("token" = [])),
    responses(
        (status = 200, description = "The credentials", body = CredentialsView),
        Reads,
    )
)]
pub async fn credentials(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> ApiResult<CredentialsView> {
    let account = caller.account.id;
    let creds = match store::credentials::by_account(&state.db, account).await {
        Ok(Some(creds)) => creds,
        // Accounts made before credentials existed get theirs on first view.
        Ok(None) => store::credentials::create(&state.db, account, store::now_ms())
            .await
            .map_err(|e| Problem::store(&e))?,
        Err(e) => return Err(Problem::store(&e)),
    };
    Ok(Json(credentials_view(&state, creds)))
}

/// Replaces the proxy password; the gateways refuse the old one within a second.
#[utoipa::path(
    post, path = "/credentials/regenerate", tag = "credentials", security(("token" = [])),
    responses(
        (status = 200, description = "The new credentials", body = CredentialsView),
        Writes,
    )
)]
pub async fn regenerate_credentials(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> ApiResult<CredentialsView> {
    let account = caller.account.id;
    let creds = store::credentials::regenerate(&state.db, account, store::now_ms())
        .await
        .map_err(|e| Problem::store(&e))?;
    state.gateways.refresh_now();
    caller
        .client
        .record(
            &state.db,
            Some(account),
            "credentials.regenerated",
            caller.via(),
        )
        .await;
    Ok(Json(credentials_view(&state, creds)))
}
