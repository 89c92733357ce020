//! The buckets of the public REST API (`/api/v1`), keyed by the token's account: every call
//! takes one from the account's API bucket (by plan, see [`Tier`], apart from the
//! dashboard's), a write also one from the account's write bucket and a costly read one from
//! its costly bucket (both shared with the dashboard, so a token cannot double them). The API
//! layer turns a refusal into its own `429` problem; the headers are the same as everywhere.

use std::time::Duration;

use axum::http::HeaderMap;

use super::buckets::{Outcome, Tier, check};
use super::middleware::{ceil_secs, set_headers, tier_of};
use crate::state::AppState;

/// What kind of call: which buckets besides the account's API bucket it takes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Reads.
    Read,
    /// Changes (also the account's write bucket).
    Write,
    /// Reads that aggregate a lot (also the account's costly bucket).
    Costly,
}

/// Allowed: the tightest bucket, for the `X-RateLimit-*` headers.
#[derive(Clone, Copy, Debug)]
pub struct Allowed {
    limit: u32,
    remaining: u32,
    reset: Duration,
}

impl Allowed {
    /// Sets `X-RateLimit-Limit`, `-Remaining` and `-Reset` (seconds).
    pub fn set_headers(&self, headers: &mut HeaderMap) {
        set_headers(headers, self.limit, self.remaining, self.reset);
    }
}

/// Refused: the bucket's size and the whole seconds until a call is allowed again (≥ 1).
#[derive(Clone, Copy, Debug)]
pub struct Refused {
    /// The refusing bucket's size.
    pub limit: u32,
    /// Seconds to wait.
    pub retry_after_secs: u64,
}

impl Refused {
    /// Sets the headers of a refusal (`Retry-After` is the caller's).
    pub fn set_headers(&self, headers: &mut HeaderMap) {
        set_headers(
            headers,
            self.limit,
            0,
            Duration::from_secs(self.retry_after_secs),
        );
    }
}

/// Takes one call of `kind` from `account`'s buckets.
pub async fn take(state: &AppState, account: i64, kind: Kind) -> Result<Allowed, Refused> {
    let limits = &state.endpoint_limits;
    let tier: Tier = tier_of(state, account).await;
    let mut outcomes = vec![check(&limits.public_api[tier as usize], &account)];
    match kind {
        Kind::Read => {}
        Kind::Write => outcomes.push(check(&limits.account_writes, &account)),
        Kind::Costly => outcomes.push(check(&limits.account_costly, &account)),
    }
    let mut tightest: Option<Allowed> = None;
    for outcome in outcomes {
        match outcome {
            Outcome::Refused { limit, wait } => {
                crate::telemetry::count_rate_limited("endpoint");
                return Err(Refused {
                    limit,
                    retry_after_secs: ceil_secs(wait).max(1),
                });
            }
            Outcome::Allowed {
                limit,
                remaining,
                reset,
            } => {
                if tightest.is_none_or(|t| remaining < t.remaining) {
                    tightest = Some(Allowed {
                        limit,
                        remaining,
                        reset,
                    });
                }
            }
        }
    }
    Ok(tightest.unwrap_or(Allowed {
        limit: 0,
        remaining: 0,
        reset: Duration::ZERO,
    }))
}
