//! Who is asking, and whether they may see a page. [`identify`] turns a signed-in session into
//! an [`app::api::session::ssr::Viewer`] in the request's extensions, which pages and server
//! functions read; [`require_sign_in`], a route layer on the signed-in pages, sends anyone else
//! to `/login`.

use app::api::security::ssr::FreshRecoveryCodes;
use app::api::session::ssr::Viewer;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::database_gate;
use super::observe::RequestLogSpan;
use crate::auth::{self, Identity};
use crate::state::AppState;

/// Adds the [`Viewer`] (and the loaded [`store::accounts::Account`]) for a signed-in session: within its absolute lifetime, of an account
/// that still exists, and signed in under the account's current session epoch (a password
/// change or "sign out everywhere else" ends older sessions). Any other session is ended.
/// When the session or the account cannot be read (the database is slow or away), the answer
/// is the "briefly unavailable" 503: the person is not signed out for it.
pub async fn identify(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(session) = request.extensions().get::<Session>().cloned() else {
        return next.run(request).await;
    };
    let now = store::now_ms();
    let identity = match Identity::current(&session, now).await {
        Ok(Some(identity)) => identity,
        Ok(None) => return next.run(request).await,
        Err(error) => {
            tracing::error!(%error, "loading the session failed");
            return database_gate::unavailable_page();
        }
    };
    match store::accounts::by_id(&state.db, identity.account_id).await {
        Ok(Some(account)) if account.session_epoch == identity.epoch => {
            // the request's log lines name the account from here on
            if let Some(span) = request.extensions().get::<RequestLogSpan>() {
                span.record_account(identity.account_id.get());
            }
            if let Err(error) = auth::identity::keep_alive(&session, now).await {
                tracing::warn!(%error, "marking the session as used failed");
            }
            request.extensions_mut().insert(Viewer {
                account_id: identity.account_id.get(),
                admin: account.role == store::accounts::Role::Admin,
            });
            // Handlers that change the account read it from here instead of again.
            request.extensions_mut().insert(account);
            if request.method() == Method::GET && request.uri().path() == "/settings" {
                hand_over_fresh_codes(&session, &mut request).await;
            }
        }
        Ok(_) => {
            if let Err(error) = session.flush().await {
                tracing::warn!(%error, "ending a revoked session failed");
            }
        }
        Err(error) => {
            tracing::error!(%error, "loading the signed-in account failed");
            return database_gate::unavailable_page();
        }
    }
    next.run(request).await
}

/// Moves recovery codes made by the previous request from the session into this page view,
/// which shows them once. Taken here, before rendering streams, so the removal is saved with
/// the session.
async fn hand_over_fresh_codes(session: &Session, request: &mut Request) {
    let key = app::api::security::FRESH_RECOVERY_CODES;
    // Read, then remove only when present: removing marks the session as changed (a write)
    // even when the key is absent.
    let codes = match session.get::<Vec<String>>(key).await {
        Ok(Some(codes)) => codes,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(%error, "reading the fresh recovery codes failed");
            return;
        }
    };
    match session.remove_value(key).await {
        Ok(_) => {
            request.extensions_mut().insert(FreshRecoveryCodes(codes));
        }
        Err(error) => tracing::warn!(%error, "taking the fresh recovery codes failed"),
    }
}

/// Redirects a request without a viewer to `/login` (303). Put only on the signed-in pages
/// (and the CSV export): server functions and `/ws/live` decide themselves what an anonymous
/// caller gets, and the sign-in pages are for anonymous callers.
pub async fn require_sign_in(request: Request, next: Next) -> Response {
    if request.extensions().get::<Viewer>().is_none() {
        return Redirect::to("/login").into_response();
    }
    next.run(request).await
}

/// The signed-in viewer, for handlers that change something of the account. Anyone else is
/// sent to `/login` (303) and the handler does not run.
#[derive(Clone, Copy, Debug)]
pub struct SignedIn(Viewer);

impl SignedIn {
    /// The signed-in account.
    pub fn account_id(self) -> store::AccountId {
        store::AccountId(self.0.account_id)
    }

    /// Whether the account is an administrator.
    pub fn admin(self) -> bool {
        self.0.admin
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Viewer>()
            .copied()
            .map(SignedIn)
            .ok_or_else(|| Redirect::to("/login").into_response())
    }
}

/// A signed-in administrator. Signed-out visitors are sent to `/login`; customers get 403,
/// whatever they send.
#[derive(Clone, Copy, Debug)]
pub struct Admin(pub SignedIn);

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let viewer = SignedIn::from_request_parts(parts, state).await?;
        if viewer.admin() {
            Ok(Admin(viewer))
        } else {
            Err((axum::http::StatusCode::FORBIDDEN, "administrators only\n").into_response())
        }
    }
}
