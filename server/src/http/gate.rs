//! Who is asking, and whether they may see a page. [`identify`] turns a signed-in session into
//! an [`app::api::session::ssr::Viewer`] in the request's extensions, which pages and server
//! functions read; [`require_sign_in`] sends anyone else from a dashboard page to `/login`.

use app::api::session::ssr::Viewer;
use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use crate::auth::Identity;

/// Pages anyone may open.
const PUBLIC: [&str; 2] = ["/login", "/register"];

/// Adds the [`Viewer`] for a signed-in session (within its absolute lifetime).
pub async fn identify(mut request: Request, next: Next) -> Response {
    if let Some(session) = request.extensions().get::<Session>().cloned()
        && let Some(identity) = Identity::current(&session, store::now_ms()).await
    {
        request.extensions_mut().insert(Viewer {
            account_id: identity.account_id.get(),
        });
    }
    next.run(request).await
}

/// Redirects page requests without a viewer to `/login` (303). Server functions (`/api/…`)
/// pass: each decides what an anonymous caller may see.
pub async fn require_sign_in(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let is_page = matches!(*request.method(), Method::GET | Method::HEAD)
        && !path.starts_with("/api/")
        && !PUBLIC.contains(&path);
    if is_page && request.extensions().get::<Viewer>().is_none() {
        return Redirect::to("/login").into_response();
    }
    next.run(request).await
}
