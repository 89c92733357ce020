//! Who may see internals (`/metrics`, `/health/detailed`): a loopback client that is not being
//! relayed by a reverse proxy, or anyone presenting `Authorization: Bearer $ATLANTIC_METRICS_TOKEN`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::state::AppState;

/// The route layer on the operator's routes: 401 with `WWW-Authenticate` for anyone else.
pub async fn require(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let token = state
        .config
        .metrics_token
        .as_ref()
        .map(|t| t.expose().as_bytes());
    if allowed(peer, request.headers(), token) {
        return next.run(request).await;
    }
    let mut response = (
        StatusCode::UNAUTHORIZED,
        "internal endpoint: present the metrics token\n",
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"atlantic\""),
    );
    response
}

/// The rule itself, separate from axum for testing.
fn allowed(
    peer: Option<SocketAddr>,
    headers: &axum::http::HeaderMap,
    token: Option<&[u8]>,
) -> bool {
    if let (Some(expected), Some(presented)) = (token, bearer(headers))
        && bool::from(presented.as_bytes().ct_eq(expected))
    {
        return true;
    }
    // A reverse proxy on the same host makes every client look like loopback: a forwarded
    // request is treated as remote.
    let forwarded = ["forwarded", "x-forwarded-for", "x-real-ip"]
        .iter()
        .any(|h| headers.contains_key(*h));
    peer.is_some_and(|p| p.ip().is_loopback()) && !forwarded
}

fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::*;

    fn addr(s: &str) -> Option<SocketAddr> {
        Some(s.parse().expect("test address"))
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    #[test]
    fn loopback_is_allowed_unless_forwarded() {
        assert!(allowed(addr("127.0.0.1:5000"), &HeaderMap::new(), None));
        assert!(allowed(addr("[::1]:5000"), &HeaderMap::new(), None));
        assert!(!allowed(
            addr("127.0.0.1:5000"),
            &headers(&[("x-forwarded-for", "203.0.113.9")]),
            None
        ));
        assert!(!allowed(
            addr("127.0.0.1:5000"),
            &headers(&[("forwarded", "for=203.0.113.9")]),
            None
        ));
    }

    #[test]
    fn remote_needs_the_exact_token() {
        let token = Some(b"s3cret-token-0123456789".as_slice());
        assert!(!allowed(addr("203.0.113.9:5000"), &HeaderMap::new(), token));
        assert!(!allowed(
            addr("203.0.113.9:5000"),
            &headers(&[("authorization", "Bearer wrong")]),
            token
        ));
        assert!(allowed(
            addr("203.0.113.9:5000"),
            &headers(&[("authorization", "Bearer s3cret-token-0123456789")]),
            token
        ));
        // No token configured: a remote client can never get in, whatever it sends.
        assert!(!allowed(
            addr("203.0.113.9:5000"),
            &headers(&[("authorization", "Bearer ")]),
            None
        ));
    }
}
