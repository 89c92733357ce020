//! `/metrics` in Prometheus text format, for loopback clients or the metrics token.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::state::AppState;

/// The `/metrics` route, for the operator's router (loopback or the metrics token).
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(render))
}

async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let pool = state.db.pool_stats();
    metrics::gauge!("db_pool_connections").set(f64::from(pool.size));
    metrics::gauge!("db_pool_idle_connections").set(f64::from(pool.idle));
    metrics::gauge!("db_pool_max_connections").set(f64::from(pool.max));
    metrics::gauge!("process_uptime_seconds").set(state.started.elapsed().as_secs_f64());
    let breaker = if state.paystack.is_unavailable() {
        1.0
    } else {
        0.0
    };
    metrics::gauge!("atlantic_paystack_breaker_open").set(breaker);
    crate::telemetry::collect_process_metrics();
    match store::sessions::live_count(&state.db).await {
        Ok(n) => metrics::gauge!("atlantic_web_sessions").set(n as f64),
        Err(error) => tracing::warn!(%error, "counting the live sessions failed"),
    }
    state.metrics.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
