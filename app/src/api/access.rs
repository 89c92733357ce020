//! Server-side checks every server function starts with: who is asking, and may they.

use leptos::prelude::*;

use crate::api::session::ssr::viewer;

/// Sets the response status of the server function being answered.
pub fn set_status(status: http::StatusCode) {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
    }
}

/// The database, from context.
pub fn db() -> Result<store::Db, ServerFnError> {
    use_context::<store::Db>().ok_or_else(|| ServerFnError::new("no database"))
}

/// The database and the signed-in account, or a 401.
pub fn signed_in() -> Result<(store::Db, store::AccountId), ServerFnError> {
    let Some(viewer) = viewer() else {
        set_status(http::StatusCode::UNAUTHORIZED);
        return Err(ServerFnError::new("sign in first"));
    };
    Ok((db()?, store::AccountId(viewer.account_id)))
}

/// The database and the signed-in administrator; 401 signed out, 403 for customers.
pub fn admin() -> Result<(store::Db, store::AccountId), ServerFnError> {
    let (db, account) = signed_in()?;
    if viewer().is_some_and(|v| v.admin) {
        Ok((db, account))
    } else {
        set_status(http::StatusCode::FORBIDDEN);
        Err(ServerFnError::new("administrators only"))
    }
}

/// Logs the detail, tells the client only that `what` failed.
pub fn internal(what: &'static str) -> impl Fn(store::StoreError) -> ServerFnError {
    move |error| {
        tracing::error!(%error, what, "a server function failed");
        ServerFnError::new(format!("{what} unavailable right now"))
    }
}
