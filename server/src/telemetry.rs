//! Logs and metrics: `tracing` (pretty in development, JSON in production) and the Prometheus
//! recorder behind `/metrics`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global log subscriber. The filter comes from `ATLANTIC_LOG` or `RUST_LOG`.
/// Calling it twice (tests) keeps the first subscriber.
///
/// JSON lines carry the event's fields at the top level and the request's span (`request_id`,
/// `method`, `path`, `account_id` once known) under `span`. Secrets never reach a field: the
/// configuration's secrets print as `<redacted>`, and no handler logs a password or token.
pub fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_env("ATLANTIC_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

/// Seconds buckets for request latency: from 1 ms to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The process-wide Prometheus recorder, installed on first use. One per process: several
/// services started by one test binary share it.
pub fn metrics() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new();
            // Only fails on an empty bucket list, and LATENCY_BUCKETS is a non-empty constant.
            let builder = builder
                .set_buckets_for_metric(
                    Matcher::Suffix("_duration_seconds".into()),
                    &LATENCY_BUCKETS,
                )
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
            }
            describe();
            register();
            handle
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(
        "http_requests_total",
        "HTTP requests by method, route and status"
    );
    metrics::describe_histogram!(
        "http_request_duration_seconds",
        metrics::Unit::Seconds,
        "HTTP request latency by method and route"
    );
    metrics::describe_gauge!("db_pool_connections", "Database pool connections (open)");
    metrics::describe_gauge!(
        "db_pool_idle_connections",
        "Database pool connections (idle)"
    );
    metrics::describe_gauge!("db_pool_max_connections", "Database pool size limit");
}

/// The process's CPU, memory, file descriptors and threads (`process_*`, the names
/// Prometheus's own client libraries use), read from `/proc` at each scrape, and the tokio
/// tasks alive on the runtime serving the scrape (`tokio_alive_tasks`: a leak of tasks shows
/// as a count that keeps growing under steady load).
pub fn collect_process_metrics() {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR
        .get_or_init(|| {
            let collector = metrics_process::Collector::default();
            collector.describe();
            metrics::describe_gauge!(
                "tokio_alive_tasks",
                "Tokio tasks alive on the service's runtime (read at each scrape)"
            );
            collector
        })
        .collect();
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        metrics::gauge!("tokio_alive_tasks").set(runtime.metrics().num_alive_tasks() as f64);
    }
}

/// Outcomes of a sign-in attempt, as `atlantic_sign_ins_total{outcome}`.
pub const SIGN_IN_OUTCOMES: [&str; 4] = ["succeeded", "failed", "limited", "second_factor"];

/// Counts one sign-in attempt by outcome (one of [`SIGN_IN_OUTCOMES`]).
pub fn count_sign_in(outcome: &'static str) {
    metrics::counter!("atlantic_sign_ins_total", "outcome" => outcome).increment(1);
}

/// Which web limiter refused a request, as `atlantic_web_rate_limited_total{limiter}`:
/// `endpoint` (the per-route request buckets) or `attempts` (sign-in, registration and
/// re-authentication attempts).
pub const RATE_LIMITERS: [&str; 2] = ["endpoint", "attempts"];

/// Counts one request refused with 429 by `limiter` (one of [`RATE_LIMITERS`]).
pub fn count_rate_limited(limiter: &'static str) {
    metrics::counter!("atlantic_web_rate_limited_total", "limiter" => limiter).increment(1);
}

/// Registers the event counters at zero for every label value they can take, so alerts and
/// dashboards find their series (and `increase()` sees the first event) from the start.
fn register() {
    metrics::describe_counter!(
        "atlantic_web_rate_limited_total",
        "Web requests refused with 429, by limiter"
    );
    for limiter in RATE_LIMITERS {
        metrics::counter!("atlantic_web_rate_limited_total", "limiter" => limiter).absolute(0);
    }
    metrics::describe_counter!(
        "web_connections_refused_total",
        "Web connections refused at accept, by the cap reached (total or per source)"
    );
    for cap in ["total", "source"] {
        metrics::counter!("web_connections_refused_total", "cap" => cap).absolute(0);
    }
    let outcomes: [(&str, &str, &[&str]); 4] = [
        (
            "atlantic_paystack_webhooks_total",
            "Paystack webhook deliveries by outcome (bad_signature: failed verification)",
            &["accepted", "duplicate", "bad_signature", "bad_source"],
        ),
        (
            "atlantic_payments_total",
            "Payments settled, by outcome",
            &[
                "paid",
                "mismatch",
                "superseded",
                "refund_refused",
                "renewal_failed",
            ],
        ),
        (
            "atlantic_renewals_total",
            "Automatic card renewals, by outcome",
            &[
                "attempted",
                "paid",
                "declined",
                "superseded",
                "refused",
                "unanswered",
            ],
        ),
        (
            "atlantic_sign_ins_total",
            "Dashboard sign-in attempts, by outcome",
            &SIGN_IN_OUTCOMES,
        ),
    ];
    for (name, help, values) in outcomes {
        metrics::describe_counter!(name, help);
        for &outcome in values {
            metrics::counter!(name, "outcome" => outcome).absolute(0);
        }
    }
    metrics::describe_counter!(
        "atlantic_paystack_requests_total",
        "Calls to Paystack's API by operation and outcome (unavailable: no answer or 5xx)"
    );
    for op in ["initialize", "verify", "charge_authorization", "refund"] {
        for outcome in ["ok", "refused", "malformed", "unavailable"] {
            metrics::counter!("atlantic_paystack_requests_total", "op" => op, "outcome" => outcome)
                .absolute(0);
        }
    }
    metrics::describe_gauge!(
        "atlantic_paystack_breaker_open",
        "1 while calls to Paystack are refused without trying (its breaker is open)"
    );
    metrics::describe_gauge!(
        "process_uptime_seconds",
        "Seconds since the service started"
    );
    metrics::describe_gauge!(
        "atlantic_web_sessions",
        "Dashboard sessions stored and not expired (read at each scrape)"
    );
}
