//! Cross-site request forgery defence for every state-changing request — HTML form posts and
//! Leptos server functions alike: the browser's `Origin` (or, failing that, `Referer`) must be
//! this site. `SameSite=Lax` session cookies are the second layer. A layer on the browser's
//! routes only: Paystack's webhook is not among them (it authenticates with its signature).

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::state::AppState;

/// Refuses unsafe methods whose origin is not ours with 403.
pub async fn same_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if safe {
        return next.run(request).await;
    }
    let headers = request.headers();
    let claimed = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if is_same_origin(claimed, host, &state.config.public_url) {
        next.run(request).await
    } else {
        tracing::warn!(
            origin = claimed.unwrap_or("-"),
            "refused a cross-site request"
        );
        (StatusCode::FORBIDDEN, "cross-site request refused\n").into_response()
    }
}

/// Whether `claimed` (an Origin or Referer value) is the public URL's origin or the origin of
/// the host the request was sent to.
pub(crate) fn is_same_origin(claimed: Option<&str>, host: Option<&str>, public_url: &Url) -> bool {
    let Some(claimed) = claimed.and_then(|c| Url::parse(c).ok()) else {
        return false; // absent, "null" (sandboxed or privacy-stripped) or malformed
    };
    if claimed.origin() == public_url.origin() {
        return true;
    }
    // The Host header is the address the browser itself used; an attacker's page cannot set it.
    host.and_then(|h| Url::parse(&format!("{}://{h}", claimed.scheme())).ok())
        .is_some_and(|ours| ours.origin() == claimed.origin())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public() -> Url {
        Url::parse("https://proxy.example.com/").expect("url")
    }

    #[test]
    fn our_own_origin_passes() {
        assert!(is_same_origin(
            Some("https://proxy.example.com"),
            None,
            &public()
        ));
        assert!(is_same_origin(
            Some("http://127.0.0.1:3000"),
            Some("127.0.0.1:3000"),
            &public()
        ));
        assert!(is_same_origin(
            Some("http://127.0.0.1:3000/login?x=1"),
            Some("127.0.0.1:3000"),
            &public()
        ));
    }

    #[test]
    fn other_origins_and_missing_ones_are_refused() {
        assert!(!is_same_origin(
            Some("https://evil.example"),
            Some("proxy.example.com"),
            &public()
        ));
        assert!(!is_same_origin(
            Some("http://127.0.0.1:3001"),
            Some("127.0.0.1:3000"),
            &public()
        ));
        assert!(!is_same_origin(
            Some("https://proxy.example.com.evil.example"),
            None,
            &public()
        ));
        assert!(!is_same_origin(
            Some("null"),
            Some("127.0.0.1:3000"),
            &public()
        ));
        assert!(!is_same_origin(None, Some("127.0.0.1:3000"), &public()));
    }
}
