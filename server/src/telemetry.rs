//! Logs and metrics: `tracing` (pretty in development, JSON in production) and the Prometheus
//! recorder behind `/metrics`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::Environment;

/// Installs the global log subscriber. The filter comes from `ATLANTIC_LOG` or `RUST_LOG`.
/// Calling it twice (tests) keeps the first subscriber.
pub fn init_tracing(environment: Environment) {
    let filter = EnvFilter::try_from_env("ATLANTIC_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match environment {
        Environment::Production => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        Environment::Development => builder.compact().try_init(),
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
