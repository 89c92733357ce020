//! The middleware that applies the buckets to requests: which buckets a request takes, the
//! `429` refusal and the `X-RateLimit-*` headers.

use std::net::SocketAddr;
use std::time::Duration;

use app::api::session::ssr::Viewer;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::buckets::{Outcome, SignInStep, Tier, check};
use crate::http::client_ip::{SourceKey, client_ip};
use crate::state::AppState;

/// What applies to a request.
#[derive(Debug, PartialEq, Eq)]
enum Class {
    SignIn(SignInStep),
    Api,
    Webhook,
    /// Any other state-changing request: every write route, present and future.
    Write,
}

/// Methods that change nothing (the same rule the CSRF check uses).
fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

fn class(method: &Method, path: &str) -> Option<Class> {
    if path.starts_with("/webhooks/") {
        return Some(Class::Webhook);
    }
    if path.starts_with("/api/") {
        return Some(Class::Api);
    }
    if is_safe(method) {
        return None;
    }
    match (method, path) {
        (&Method::POST, "/login") => Some(Class::SignIn(SignInStep::Password)),
        (&Method::POST, "/login/code") => Some(Class::SignIn(SignInStep::Code)),
        (&Method::POST, "/register") => Some(Class::SignIn(SignInStep::Register)),
        _ => Some(Class::Write),
    }
}

/// The middleware: checks the buckets that apply (after the viewer is known), answers 429
/// when one is empty, and sets the headers of the tightest one.
pub async fn limit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let Some(class) = class(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    let limits = &state.endpoint_limits;
    let ip = SourceKey::of(client_ip(
        peer,
        request.headers(),
        &state.config.trusted_proxies,
    ));
    let mut outcomes = vec![match class {
        Class::SignIn(step) => check(&limits.sign_in, &(step, ip)),
        Class::Api => check(&limits.api, &ip),
        Class::Webhook => check(&limits.webhook, &ip),
        Class::Write => check(&limits.writes, &ip),
    }];
    if let Some(viewer) = request.extensions().get::<Viewer>().copied() {
        match class {
            Class::Api => {
                let tier = tier_of(&state, viewer.account_id).await;
                outcomes.push(check(&limits.accounts[tier as usize], &viewer.account_id));
            }
            Class::Write => outcomes.push(check(&limits.account_writes, &viewer.account_id)),
            Class::SignIn(_) | Class::Webhook => {}
        }
    }
    enforce(&outcomes, request, next).await
}

/// A route layer for reads that cost real work (the CSV export, the Paystack callback, which
/// asks Paystack): [`COSTLY_PER_MINUTE`](super::buckets::COSTLY_PER_MINUTE) per source and per signed-in account. Put on the
/// route itself (`route_layer`) with `from_fn_with_state`.
pub async fn costly(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let limits = &state.endpoint_limits;
    let ip = SourceKey::of(client_ip(
        peer,
        request.headers(),
        &state.config.trusted_proxies,
    ));
    let mut outcomes = vec![check(&limits.costly, &ip)];
    if let Some(viewer) = request.extensions().get::<Viewer>().copied() {
        outcomes.push(check(&limits.account_costly, &viewer.account_id));
    }
    enforce(&outcomes, request, next).await
}

/// Answers 429 when a bucket refused; otherwise runs the request and sets the headers of the
/// tightest bucket.
async fn enforce(outcomes: &[Outcome], request: Request, next: Next) -> Response {
    if let Some((limit, wait)) = outcomes.iter().find_map(|o| match o {
        Outcome::Refused { limit, wait } => Some((*limit, *wait)),
        Outcome::Allowed { .. } => None,
    }) {
        return too_many(limit, wait);
    }
    let tightest = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Allowed {
                limit,
                remaining,
                reset,
            } => Some((*limit, *remaining, *reset)),
            Outcome::Refused { .. } => None,
        })
        .min_by_key(|(_, remaining, _)| *remaining);
    let mut response = next.run(request).await;
    if let Some((limit, remaining, reset)) = tightest {
        set_headers(response.headers_mut(), limit, remaining, reset);
    }
    response
}

/// The account's tier; a database hiccup counts as the smallest plan rather than failing
/// the request.
async fn tier_of(state: &AppState, account: i64) -> Tier {
    let account = store::AccountId(account);
    match store::plans::current_for_account(&state.db, account, store::now_ms()).await {
        Ok(plan) => Tier::of_plan(plan.map(|p| p.requests_per_second)),
        Err(error) => {
            tracing::warn!(%error, "looking up the plan for the API limit failed");
            Tier::Small
        }
    }
}

fn header_value(n: u64) -> HeaderValue {
    HeaderValue::from(n)
}

fn set_headers(headers: &mut HeaderMap, limit: u32, remaining: u32, reset: Duration) {
    headers.insert(
        HeaderName::from_static("x-ratelimit-limit"),
        header_value(limit.into()),
    );
    headers.insert(
        HeaderName::from_static("x-ratelimit-remaining"),
        header_value(remaining.into()),
    );
    headers.insert(
        HeaderName::from_static("x-ratelimit-reset"),
        header_value(ceil_secs(reset)),
    );
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn too_many(limit: u32, wait: Duration) -> Response {
    let secs = ceil_secs(wait).max(1);
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        format!("too many requests: try again in {secs} s\n"),
    )
        .into_response();
    let headers = response.headers_mut();
    set_headers(headers, limit, 0, Duration::from_secs(secs));
    headers.insert(header::RETRY_AFTER, header_value(secs));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_classified_by_path() {
        assert_eq!(
            class(&Method::POST, "/login"),
            Some(Class::SignIn(SignInStep::Password))
        );
        assert_eq!(
            class(&Method::POST, "/login/code"),
            Some(Class::SignIn(SignInStep::Code))
        );
        assert_eq!(
            class(&Method::POST, "/register"),
            Some(Class::SignIn(SignInStep::Register))
        );
        assert!(class(&Method::GET, "/login").is_none(), "the page itself");
        assert_eq!(class(&Method::POST, "/api/whoami"), Some(Class::Api));
        assert_eq!(
            class(&Method::POST, "/webhooks/paystack"),
            Some(Class::Webhook)
        );
        assert!(class(&Method::GET, "/settings").is_none());
        assert_eq!(
            class(&Method::POST, "/settings/password"),
            Some(Class::Write)
        );
        assert_eq!(
            class(&Method::POST, "/billing/checkout"),
            Some(Class::Write)
        );
        assert_eq!(class(&Method::DELETE, "/anything"), Some(Class::Write));
        assert_eq!(
            class(&Method::PUT, "/login"),
            Some(Class::Write),
            "only POST is the sign-in step"
        );
        assert!(class(&Method::HEAD, "/usage.csv").is_none());
    }
}
