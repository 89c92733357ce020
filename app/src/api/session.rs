//! Who is viewing: the server resolves the session cookie into a [`Viewer`] in the request's
//! extensions before any page or server function runs; this module reads it.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The signed-in account as the dashboard shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// Sign-in email.
    pub email: String,
    /// Whether the account administers the service.
    pub admin: bool,
}

/// The signed-in account, or `None`.
#[server]
pub async fn whoami() -> Result<Option<Me>, ServerFnError> {
    let Some(viewer) = ssr::viewer() else {
        return Ok(None);
    };
    let db = use_context::<store::Db>().ok_or_else(|| ServerFnError::new("no database"))?;
    let account = store::accounts::by_id(&db, store::AccountId(viewer.account_id))
        .await
        .map_err(|error| {
            tracing::error!(%error, "loading the signed-in account failed");
            ServerFnError::new("your account is unavailable right now")
        })?;
    Ok(account.map(|a| Me {
        email: a.email,
        admin: a.role == store::accounts::Role::Admin,
    }))
}

/// Server-side access to the viewer.
#[cfg(feature = "ssr")]
pub mod ssr {
    use leptos::prelude::use_context;

    /// Put into the request's extensions by the server for a signed-in session.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Viewer {
        /// The signed-in account's id.
        pub account_id: i64,
        /// Whether the account is an administrator (checked against the database on every
        /// request, so a demotion takes effect at once).
        pub admin: bool,
    }

    /// Where customers reach the gateway, as `host:port`, for connection instructions.
    #[derive(Clone, Debug, Default)]
    pub struct ProxyEndpoints {
        /// The HTTP proxy.
        pub http: String,
        /// The SOCKS5 proxy.
        pub socks: String,
    }

    /// Asks the running gateway to reload accounts now (after a credential change).
    #[derive(Clone)]
    pub struct GatewayRefresh(pub std::sync::Arc<dyn Fn() + Send + Sync>);

    /// What [`SessionEnder`] returns: whether the session was alive, or why the cluster could
    /// not be told.
    pub type Ending =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool, String>> + Send>>;

    /// Ends a sticky session of an account on every gateway: `Ok(true)` when it was alive,
    /// `Ok(false)` when no gateway knew it, `Err` when the cluster could not be told.
    #[derive(Clone)]
    pub struct SessionEnder(pub std::sync::Arc<dyn Fn(i64, String) -> Ending + Send + Sync>);

    /// The viewer of the request being rendered or served, if signed in.
    pub fn viewer() -> Option<Viewer> {
        use_context::<http::request::Parts>()?
            .extensions
            .get::<Viewer>()
            .copied()
    }
}
