//! The middleware that applies the buckets: one layer per kind of route ([`sign_in`], [`api`],
//! [`webhook`], [`writes`], [`costly`]), put on its routes by the router, so no request is
//! classified by its path. Each answers `429` when a bucket is empty and sets the
//! `X-RateLimit-*` headers of the tightest one.

use std::sync::Arc;
use std::time::Duration;

use app::api::session::ssr::Viewer;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::buckets::{Keyed, Outcome, Tier, check};
use crate::http::client_ip::{ClientIp, SourceKey};
use crate::state::AppState;

/// Methods that change nothing (the same rule the CSRF check uses, and `TRACE`).
fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// The signed-in account, when the session layer found one.
fn account(request: &Request) -> Option<i64> {
    request
        .extensions()
        .get::<Viewer>()
        .map(|viewer| viewer.account_id)
}

/// A route layer for the sign-in steps (`POST /login`, `/login/code`, `/register`): each route
/// its own bucket per source.
pub async fn sign_in(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    request: Request,
    next: Next,
) -> Response {
    // Route layers run after routing, so the matched route is always there.
    let route: Arc<str> = match request.extensions().get::<MatchedPath>() {
        Some(matched) => Arc::from(matched.as_str()),
        None => Arc::from(request.uri().path()),
    };
    let outcome = check(&state.endpoint_limits.sign_in, &(route, SourceKey::of(ip)));
    enforce(&[outcome], request, next).await
}

/// The layer on the server functions: per source, and per account by plan once signed in.
pub async fn api(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    request: Request,
    next: Next,
) -> Response {
    let limits = &state.endpoint_limits;
    let mut outcomes = vec![check(&limits.api, &SourceKey::of(ip))];
    if let Some(account) = account(&request) {
        let tier = tier_of(&state, account).await;
        outcomes.push(check(&limits.accounts[tier as usize], &account));
    }
    enforce(&outcomes, request, next).await
}

/// The layer on Paystack's webhook: per source.
pub async fn webhook(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    request: Request,
    next: Next,
) -> Response {
    let outcome = check(&state.endpoint_limits.webhook, &SourceKey::of(ip));
    enforce(&[outcome], request, next).await
}

/// The layer on the browser's other routes: a state-changing request (any method but `GET`,
/// `HEAD`, `OPTIONS`, `TRACE`) is a write, per source and per signed-in account; the rest
/// pass untouched.
pub async fn writes(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    request: Request,
    next: Next,
) -> Response {
    if is_safe(request.method()) {
        return next.run(request).await;
    }
    let limits = &state.endpoint_limits;
    per_source_and_account(&limits.writes, &limits.account_writes, ip, request, next).await
}

/// A route layer for reads that cost real work (the CSV export, the Paystack callback, which
/// asks Paystack): [`COSTLY_PER_MINUTE`](super::buckets::COSTLY_PER_MINUTE) per source and
/// per signed-in account. Put on the route itself (`route_layer`) with `from_fn_with_state`.
pub async fn costly(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    request: Request,
    next: Next,
) -> Response {
    let limits = &state.endpoint_limits;
    per_source_and_account(&limits.costly, &limits.account_costly, ip, request, next).await
}

/// Takes one from the source's bucket and, when signed in, one from the account's.
async fn per_source_and_account(
    by_source: &Keyed<SourceKey>,
    by_account: &Keyed<i64>,
    ip: std::net::IpAddr,
    request: Request,
    next: Next,
) -> Response {
    let mut outcomes = vec![check(by_source, &SourceKey::of(ip))];
    if let Some(account) = account(&request) {
        outcomes.push(check(by_account, &account));
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
pub(super) async fn tier_of(state: &AppState, account: i64) -> Tier {
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

pub(super) fn set_headers(headers: &mut HeaderMap, limit: u32, remaining: u32, reset: Duration) {
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

pub(super) fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn too_many(limit: u32, wait: Duration) -> Response {
    crate::telemetry::count_rate_limited("endpoint");
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
