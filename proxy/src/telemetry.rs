//! The gateway's event metrics, through the `metrics` facade (a no-op unless the embedding
//! service installed a recorder): refusals by code, failovers, and how the usage flush goes.
//! The sampled totals and gauges are published by [`crate::live`] once a second.
//!
//! Every series is registered at zero when the gateway starts, so a dashboard or an alert that
//! reads them finds a series before the first refusal or failure ever happens.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::ErrorCode;

const REFUSALS: &str = "atlantic_proxy_refusals_total";
const FAILOVERS: &str = "atlantic_proxy_failovers_total";
const FLUSH_FAILURES: &str = "atlantic_proxy_usage_flush_failures_total";
const LAST_FLUSH: &str = "atlantic_proxy_usage_last_flush_timestamp_seconds";
const DRIFT_BYTES: &str = "atlantic_usage_drift_bytes";
const DRIFT_ACCOUNTS: &str = "atlantic_usage_drift_accounts";

/// Describes the series and registers each at zero; called when the gateway starts.
pub(crate) fn register() {
    metrics::describe_counter!(
        REFUSALS,
        "Proxy requests refused or failed, by error code and the HTTP status it maps to"
    );
    metrics::describe_counter!(
        FAILOVERS,
        "Connections served by another route after the first one tried failed"
    );
    metrics::describe_counter!(FLUSH_FAILURES, "Usage flushes to the store that failed");
    metrics::describe_gauge!(
        LAST_FLUSH,
        metrics::Unit::Seconds,
        "Unix time of the last successful usage flush (the gateway's start until the first)"
    );
    metrics::describe_gauge!(
        DRIFT_BYTES,
        metrics::Unit::Bytes,
        "Bytes metered by the gateway and not yet confirmed written to the store, all accounts"
    );
    metrics::describe_gauge!(
        DRIFT_ACCOUNTS,
        "Accounts with bytes metered and not yet confirmed written to the store"
    );
    metrics::gauge!(DRIFT_BYTES).set(0.0);
    metrics::gauge!(DRIFT_ACCOUNTS).set(0.0);
    for code in ErrorCode::ALL {
        refusal_counter(code).absolute(0);
    }
    metrics::counter!(FAILOVERS).absolute(0);
    metrics::counter!(FLUSH_FAILURES).absolute(0);
    metrics::gauge!(LAST_FLUSH).set(unix_now());
}

fn refusal_counter(code: ErrorCode) -> metrics::Counter {
    metrics::counter!(REFUSALS, "code" => code.as_str(), "status" => status_label(code))
}

/// The status as a label; every code's status is one of these.
fn status_label(code: ErrorCode) -> &'static str {
    match code.http_status() {
        400 => "400",
        402 => "402",
        403 => "403",
        407 => "407",
        429 => "429",
        502 => "502",
        503 => "503",
        504 => "504",
        _ => "other",
    }
}

/// A request refused or failed with `code`.
pub(crate) fn refusal(code: ErrorCode) {
    refusal_counter(code).increment(1);
}

/// A connection served by a later route after an earlier one failed.
pub(crate) fn failover() {
    metrics::counter!(FAILOVERS).increment(1);
}

/// A usage flush reached the store.
pub(crate) fn flushed() {
    metrics::gauge!(LAST_FLUSH).set(unix_now());
}

/// A usage flush failed (it will be retried with the records kept).
pub(crate) fn flush_failed() {
    metrics::counter!(FLUSH_FAILURES).increment(1);
}

/// The reconciliation after a flush (see [`crate::meter::Ledger`]).
pub(crate) fn drift(drift: &crate::UsageDrift) {
    metrics::gauge!(DRIFT_BYTES).set(drift.bytes as f64);
    metrics::gauge!(DRIFT_ACCOUNTS).set(drift.accounts as f64);
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_to_its_own_status_label() {
        for code in ErrorCode::ALL {
            assert_eq!(
                status_label(code),
                code.http_status().to_string(),
                "{code:?}"
            );
        }
    }
}
