//! `Content-Security-Policy` with a fresh nonce per response. Scripts run only from our own
//! origin or carrying the nonce (Leptos puts it on its hydration script and on the inline
//! scripts that stream Suspense results, once it is provided as context: see [`nonce_context`]);
//! no `unsafe-inline` for scripts or styles. `wasm-unsafe-eval` lets the page compile its own
//! WebAssembly, nothing else.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use rand::Rng as _;

/// The nonce of the response being rendered, in the request's extensions.
#[derive(Clone, Debug)]
pub struct CspNonce(pub Arc<str>);

fn new_nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The policy for a response whose inline scripts carry `nonce`.
pub fn policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Makes the nonce, hands it to the renderer and sends the matching header.
pub async fn content_security_policy(mut request: Request, next: Next) -> Response {
    let nonce = new_nonce();
    request
        .extensions_mut()
        .insert(CspNonce(Arc::from(nonce.as_str())));
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&policy(&nonce)) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// Inside Leptos rendering: makes the request's nonce the one Leptos writes into its scripts.
pub fn nonce_context() {
    if let Some(parts) = leptos::prelude::use_context::<axum::http::request::Parts>()
        && let Some(nonce) = parts.extensions.get::<CspNonce>()
    {
        leptos::prelude::provide_context(leptos::nonce::Nonce::from_value(nonce.0.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_fresh_and_scripts_never_inline_without_one() {
        let (a, b) = (new_nonce(), new_nonce());
        assert_ne!(a, b);
        assert_eq!(a.len(), 22, "128 bits, base64url without padding");
        let csp = policy(&a);
        assert!(csp.contains(&format!(
            "script-src 'self' 'nonce-{a}' 'wasm-unsafe-eval';"
        )));
        assert!(!csp.contains("unsafe-inline"));
        assert!(csp.contains("frame-ancestors 'none'"));
    }
}
