//! Per-endpoint request limits (GCRA token buckets from `governor`):
//!
//! | requests                                 | limit                   | key        |
//! |------------------------------------------|-------------------------|------------|
//! | `POST /login`, `/login/code`, `/register` | 5 a minute each        | source     |
//! | server functions (`/api/…`)              | 100 a minute            | source     |
//! | the same, signed in                      | by plan, see [`Tier`]   | account    |
//! | Paystack webhooks (`/webhooks/…`)        | 10 a minute             | source     |
//! | every other state-changing request (any method but `GET`, `HEAD`, `OPTIONS`, `TRACE`) | 60 a minute | source |
//! | the same, signed in                      | 30 a minute             | account    |
//! | costly reads ([`costly`]: CSV export, Paystack callback) | 10 a minute | source and account |
//!
//! Every limited response carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset` (seconds until the bucket is full again) of the tightest bucket that
//! applied; a refusal is `429` with `Retry-After`. The source is the client IP (trusted reverse
//! proxies honoured) as a [`SourceKey`]: an IPv6 client counts by its /64. `tower_governor` was not used: its key extractors do not know our trusted-proxy
//! rule, and it sends `X-RateLimit-After` rather than the `X-RateLimit-Reset` clients expect.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use app::api::session::ssr::Viewer;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::{StateInformationMiddleware, StateSnapshot};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use super::client_ip::{SourceKey, client_ip};
use crate::state::AppState;

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// Sign-in and registration attempts per minute per IP.
pub const SIGN_IN_PER_MINUTE: u32 = 5;
/// Server-function calls per minute per IP.
pub const API_PER_MINUTE: u32 = 100;
/// Webhook deliveries per minute per IP.
pub const WEBHOOK_PER_MINUTE: u32 = 10;
/// State-changing requests per minute per source (several people may share an address).
pub const WRITES_PER_MINUTE: u32 = 60;
/// State-changing requests per minute per signed-in account.
pub const ACCOUNT_WRITES_PER_MINUTE: u32 = 30;
/// Costly reads (CSV export, Paystack callback) per minute, per source and per account.
pub const COSTLY_PER_MINUTE: u32 = 10;

/// A signed-in account's API budget, from its plan's gateway rate: ten calls a minute for
/// each request a second the plan allows, between 100 and 1,000 a minute (no plan: 60).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// No live plan: 60 a minute.
    NoPlan,
    /// Starter-sized plans: 100 a minute.
    Small,
    /// Personal-sized plans: 500 a minute.
    Medium,
    /// Team and larger: 1,000 a minute.
    Large,
}

impl Tier {
    const ALL: [Tier; 4] = [Tier::NoPlan, Tier::Small, Tier::Medium, Tier::Large];

    /// The tier of a plan allowing `requests_per_second` through the gateway.
    pub fn of_plan(requests_per_second: Option<i64>) -> Tier {
        match requests_per_second {
            None => Tier::NoPlan,
            Some(rps) if rps * 10 <= 100 => Tier::Small,
            Some(rps) if rps * 10 <= 500 => Tier::Medium,
            Some(_) => Tier::Large,
        }
    }

    /// Calls a minute.
    pub fn per_minute(self) -> u32 {
        match self {
            Tier::NoPlan => 60,
            Tier::Small => 100,
            Tier::Medium => 500,
            Tier::Large => 1_000,
        }
    }
}

/// The limiters, shared by all requests.
#[derive(Clone)]
pub struct EndpointLimits {
    sign_in: Arc<Keyed<(SignInStep, SourceKey)>>,
    api: Arc<Keyed<SourceKey>>,
    webhook: Arc<Keyed<SourceKey>>,
    accounts: Arc<[Keyed<i64>; 4]>,
    writes: Arc<Keyed<SourceKey>>,
    account_writes: Arc<Keyed<i64>>,
    costly: Arc<Keyed<SourceKey>>,
    account_costly: Arc<Keyed<i64>>,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

fn keyed<K: std::hash::Hash + Eq + Clone>(n: u32) -> Keyed<K> {
    RateLimiter::keyed(per_minute(n)).with_middleware::<StateInformationMiddleware>()
}

impl Default for EndpointLimits {
    fn default() -> Self {
        EndpointLimits {
            sign_in: Arc::new(keyed(SIGN_IN_PER_MINUTE)),
            api: Arc::new(keyed(API_PER_MINUTE)),
            webhook: Arc::new(keyed(WEBHOOK_PER_MINUTE)),
            accounts: Arc::new(Tier::ALL.map(|t| keyed(t.per_minute()))),
            writes: Arc::new(keyed(WRITES_PER_MINUTE)),
            account_writes: Arc::new(keyed(ACCOUNT_WRITES_PER_MINUTE)),
            costly: Arc::new(keyed(COSTLY_PER_MINUTE)),
            account_costly: Arc::new(keyed(COSTLY_PER_MINUTE)),
        }
    }
}

impl EndpointLimits {
    /// Forgets keys whose buckets are full again, so memory stays bounded (called
    /// periodically).
    pub fn forget_idle(&self) {
        self.sign_in.retain_recent();
        self.sign_in.shrink_to_fit();
        for limiter in [&self.api, &self.webhook, &self.writes, &self.costly] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        for limiter in self
            .accounts
            .iter()
            .chain([&*self.account_writes, &*self.account_costly])
        {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// The sign-in endpoints, each with its own budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum SignInStep {
    Password,
    Code,
    Register,
}

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

/// The outcome of one bucket: allowed with a snapshot, or refused with a wait.
enum Outcome {
    Allowed {
        limit: u32,
        remaining: u32,
        reset: Duration,
    },
    Refused {
        limit: u32,
        wait: Duration,
    },
}

fn check<K: std::hash::Hash + Eq + Clone>(limiter: &Keyed<K>, key: &K) -> Outcome {
    let clock = DefaultClock::default();
    match limiter.check_key(key) {
        Ok(snapshot) => allowed(&snapshot),
        Err(denied) => Outcome::Refused {
            limit: denied.quota().burst_size().get(),
            wait: denied.wait_time_from(clock.now()),
        },
    }
}

fn allowed(snapshot: &StateSnapshot) -> Outcome {
    let quota = snapshot.quota();
    let limit = quota.burst_size().get();
    let remaining = snapshot.remaining_burst_capacity();
    Outcome::Allowed {
        limit,
        remaining,
        reset: quota.replenish_interval() * (limit - remaining.min(limit)),
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
/// asks Paystack): [`COSTLY_PER_MINUTE`] per source and per signed-in account. Put on the
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
    use std::net::IpAddr;

    use super::*;

    #[test]
    fn plans_map_to_tiers() {
        assert_eq!(Tier::of_plan(None), Tier::NoPlan);
        assert_eq!(Tier::of_plan(Some(10)), Tier::Small); // Starter
        assert_eq!(Tier::of_plan(Some(50)), Tier::Medium); // Personal
        assert_eq!(Tier::of_plan(Some(500)), Tier::Large); // Team
        assert_eq!(Tier::of_plan(Some(10_000)), Tier::Large); // Enterprise
    }

    #[test]
    fn a_bucket_counts_down_then_refuses_with_the_wait() {
        let limiter: Keyed<IpAddr> = keyed(3);
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        let remaining: Vec<u32> = (0..3)
            .map(|_| match check(&limiter, &ip) {
                Outcome::Allowed {
                    remaining, limit, ..
                } => {
                    assert_eq!(limit, 3);
                    remaining
                }
                Outcome::Refused { .. } => panic!("refused too early"),
            })
            .collect();
        assert_eq!(remaining, [2, 1, 0]);
        match check(&limiter, &ip) {
            Outcome::Refused { limit, wait } => {
                assert_eq!(limit, 3);
                assert!(
                    wait > Duration::ZERO && wait <= Duration::from_secs(20),
                    "{wait:?}"
                );
            }
            Outcome::Allowed { .. } => panic!("a fourth call in a minute was allowed"),
        }
        let other: IpAddr = "192.0.2.2".parse().expect("ip");
        assert!(matches!(check(&limiter, &other), Outcome::Allowed { .. }));
    }

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

    #[test]
    fn an_ipv6_64_is_one_bucket() {
        let limits = EndpointLimits::default();
        let key = |ip: &str| SourceKey::of(ip.parse::<IpAddr>().expect("ip"));
        for n in 0..SIGN_IN_PER_MINUTE {
            let ip = format!("2001:db8:5:5::{:x}", n + 1);
            let outcome = check(&limits.sign_in, &(SignInStep::Password, key(&ip)));
            assert!(matches!(outcome, Outcome::Allowed { .. }), "attempt {n}");
        }
        let same_64 = (SignInStep::Password, key("2001:db8:5:5:1:2:3:4"));
        assert!(matches!(
            check(&limits.sign_in, &same_64),
            Outcome::Refused { .. }
        ));
        let mapped = key("::ffff:192.0.2.44");
        assert_eq!(mapped, key("192.0.2.44"));
    }
}
