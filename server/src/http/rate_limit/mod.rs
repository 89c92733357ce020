//! Every limit on web requests, in one place (GCRA token buckets from `governor`).
//!
//! Two kinds of limit, both per minute. Request buckets, checked before the handler runs by
//! the layer the router puts on each kind of route ([`buckets`], [`middleware`]):
//!
//! | requests                                 | limit                   | key        |
//! |------------------------------------------|-------------------------|------------|
//! | `POST /login`, `/login/code`, `/register` ([`sign_in`]) | 5 a minute each | source |
//! | server functions (`/api/…`, [`api`])     | 100 a minute            | source     |
//! | the same, signed in                      | by plan, see [`Tier`](buckets::Tier) | account    |
//! | Paystack's webhook ([`webhook`])         | 10 a minute             | source     |
//! | every other state-changing request from a browser ([`writes`]: any method but `GET`, `HEAD`, `OPTIONS`, `TRACE`) | 60 a minute | source |
//! | the same, signed in                      | 30 a minute             | account    |
//! | costly reads ([`costly`]: CSV export, Paystack callback) | 10 a minute | source and account |
//! | the public REST API, `/api/v1` ([`public_api`]) | by plan, see [`Tier`](buckets::Tier), its own buckets | account of the token |
//! | the same, writes / costly reads (usage)  | 30 / 10 a minute, shared with the dashboard | account |
//!
//! And attempt budgets, which the handlers take once they know whose password or code is being
//! tried ([`attempts`], each an [`AttemptLimiter`] in the state):
//!
//! | attempts                                                   | limit      | key                |
//! |------------------------------------------------------------|------------|--------------------|
//! | sign-in passwords (`sign_in_limiter`)                       | 5 a minute | source, and email  |
//! | registrations (`register_limiter`)                          | 5 a minute | source, and email  |
//! | re-authentication (`reauth_limiter`): the second sign-in step, turning 2FA off, the current password of a password change, the proof adding an allowlist entry | 5 a minute | source, and account |
//!
//! Every limited request carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset` (seconds until the bucket is full again) of the tightest bucket that
//! applied; a refusal is `429` with `Retry-After`. An attempt over its budget gets the page's
//! `429` with `Retry-After` from the handler. The source is the client IP (trusted reverse
//! proxies honoured) as a [`SourceKey`](crate::http::client_ip::SourceKey): an IPv6 client
//! counts by its /64. Keys whose budget has refilled are forgotten by housekeeping
//! ([`forget_idle`]), so memory stays bounded. Every limiter of a service runs on one
//! [`LimitClock`], which tests move forward instead of waiting for a bucket to refill.
//!
//! `tower_governor` was not used: its key extractors do not know our trusted-proxy rule, and
//! it sends `X-RateLimit-After` rather than the `X-RateLimit-Reset` clients expect.

pub mod attempts;
pub mod buckets;
pub mod clock;
pub mod middleware;
pub mod public_api;

use std::num::NonZeroU32;

use governor::Quota;

pub use self::attempts::AttemptLimiter;
pub use self::buckets::EndpointLimits;
pub use self::clock::LimitClock;
pub use self::middleware::{api, costly, sign_in, webhook, writes};
use crate::state::AppState;

/// A quota of `n` a minute (at least one).
fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

/// Forgets, in every limiter, the keys whose budget is full again (called periodically).
pub fn forget_idle(state: &AppState) {
    state.sign_in_limiter.forget_idle();
    state.register_limiter.forget_idle();
    state.reauth_limiter.forget_idle();
    state.endpoint_limits.forget_idle();
}
