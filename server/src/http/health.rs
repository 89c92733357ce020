//! Liveness, readiness and the detailed health report.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::state::AppState;

/// How long a readiness probe waits for the database.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// `/health`, `/live` and `/ready`, for anyone (load balancers, orchestrators).
pub fn probes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/live", get(live))
        .route("/ready", get(ready))
}

/// `/health/detailed`, for the operator's router (loopback or the metrics token).
pub fn report() -> Router<AppState> {
    Router::new().route("/health/detailed", get(detailed))
}

/// Liveness as JSON: the process answers.
async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// Liveness for orchestrators: plain `ok`.
async fn live() -> &'static str {
    "ok\n"
}

/// Ready when not shutting down, every migration has run, the database answers and the
/// gateway's listeners are up; 503 with the reasons otherwise.
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let mut reasons = Vec::new();
    if state.shutdown.is_cancelled() {
        reasons.push("shutting down".to_string());
    }
    if state.gateways.proxy_stopped() {
        reasons.push("proxy listeners stopped".to_string());
    }
    // Known to be away (checked each second): say so at once instead of waiting on the pool.
    if !state.database.is_up() {
        reasons.push("database unavailable".to_string());
    } else {
        ready_database(&state, &mut reasons).await;
    }
    if reasons.is_empty() {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not_ready", "reasons": reasons })),
        )
    }
}

/// The database answers and has no migration pending.
async fn ready_database(state: &AppState, reasons: &mut Vec<String>) {
    match tokio::time::timeout(PROBE_TIMEOUT, state.db.pending_migrations()).await {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => reasons.push(format!("{n} migration(s) pending")),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: database check failed");
            reasons.push("database unavailable".to_string());
        }
        Err(_) => reasons.push("database did not answer in time".to_string()),
    }
}

/// Version, uptime, database engine and round trip, pool, the proxy listeners, and the node's
/// place in a cluster.
async fn detailed(State(state): State<AppState>) -> impl IntoResponse {
    let ping = tokio::time::timeout(PROBE_TIMEOUT, state.db.ping()).await;
    let (db_ok, latency_ms, db_error) = match ping {
        Ok(Ok(rtt)) => (true, Some(rtt.as_secs_f64() * 1000.0), None),
        Ok(Err(e)) => (false, None, Some(e.to_string())),
        Err(_) => (false, None, Some("timed out".to_string())),
    };
    let pool = state.db.pool_stats();
    // `None`: this process runs no gateway (a web node)
    let listening = state.gateways.local().map(|g| !g.stopped.is_cancelled());
    let shared_state = state
        .gateways
        .local()
        .and_then(|g| g.handle.cluster_status());
    let status = if db_ok && listening != Some(false) {
        "ok"
    } else {
        "degraded"
    };
    let code = if status == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(json!({
            "status": status,
            "version": env!("CARGO_PKG_VERSION"),
            "environment": format!("{:?}", state.config.environment).to_lowercase(),
            "uptime_seconds": state.started.elapsed().as_secs(),
            "database": {
                "engine": state.db.backend().to_string(),
                "ok": db_ok,
                "latency_ms": latency_ms,
                "error": db_error,
                "pool": { "size": pool.size, "idle": pool.idle, "max": pool.max },
            },
            "proxy": {
                "http": { "addr": state.gateways.http_addr.to_string(), "listening": listening },
                "socks5": { "addr": state.gateways.socks_addr.to_string(), "listening": listening },
            },
            "cluster": {
                "role": state.config.cluster.role.as_str(),
                "node": state.config.cluster.node_id,
                "region": state.config.cluster.region,
                "redis": state.config.cluster.redis_url.is_some(),
                // the gateway works on the cluster's shared state (false: degraded, local limits)
                "shared_state": shared_state.map(|(up, _)| up),
                "fallbacks": shared_state.map(|(_, n)| n),
            },
        })),
    )
}
