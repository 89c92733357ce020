//! Faults the double can be told to show on its API (initialize, verify,
//! charge_authorization, refund; never its checkout pages or these controls), so tests can
//! watch the client's timeouts and circuit breaker against a Paystack that is slow or failing:
//!
//! - `POST /paystack-double/test/fail_next?count=N`: the next N API calls answer 500 (as
//!   Paystack does when it has trouble), nothing recorded; `count=0` clears it;
//! - `POST /paystack-double/test/delay?ms=N`: every API call waits N ms before it is handled
//!   (`ms=0` clears it).
//!
//! Both take the double's secret key as Bearer token, like `decline_next_charge`.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{Double, refuse};

/// Where tests make the next API calls fail.
pub(super) const FAIL_NEXT: &str = "/test/fail_next";
/// Where tests make every API call slow.
pub(super) const DELAY: &str = "/test/delay";
/// The longest delay a test may ask for: a minute.
const MAX_DELAY_MS: u64 = 60_000;

/// What the API is told to do wrong.
#[derive(Default)]
pub(super) struct Faults {
    /// API calls still to answer 500.
    failures: AtomicU32,
    /// Milliseconds each API call waits first.
    delay_ms: AtomicU64,
}

#[derive(Deserialize)]
pub(super) struct Count {
    count: u32,
}

#[derive(Deserialize)]
pub(super) struct Delay {
    ms: u64,
}

/// Sets how many of the next API calls answer 500.
pub(super) async fn fail_next(
    State(double): State<Double>,
    headers: HeaderMap,
    Query(Count { count }): Query<Count>,
) -> Response {
    if !double.authorized(&headers) {
        return refuse(StatusCode::UNAUTHORIZED, "Invalid key");
    }
    double.faults.failures.store(count, Ordering::Release);
    Json(json!({
        "status": true,
        "message": "The next API calls will fail",
        "data": { "failures_pending": count },
    }))
    .into_response()
}

/// Sets how long each API call waits.
pub(super) async fn delay(
    State(double): State<Double>,
    headers: HeaderMap,
    Query(Delay { ms }): Query<Delay>,
) -> Response {
    if !double.authorized(&headers) {
        return refuse(StatusCode::UNAUTHORIZED, "Invalid key");
    }
    if ms > MAX_DELAY_MS {
        return refuse(StatusCode::BAD_REQUEST, "A delay is at most 60000 ms");
    }
    double.faults.delay_ms.store(ms, Ordering::Release);
    Json(json!({
        "status": true,
        "message": "API calls will be slow",
        "data": { "delay_ms": ms },
    }))
    .into_response()
}

/// The layer on the API routes: waits, then fails the call if told to.
pub(super) async fn apply(State(double): State<Double>, request: Request, next: Next) -> Response {
    let wait = double.faults.delay_ms.load(Ordering::Acquire);
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
    let fail = double
        .faults
        .failures
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok();
    if fail {
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "An error occurred (test double told to fail)",
        );
    }
    next.run(request).await
}
