//! `GET /admin/exits` and `GET /admin/nodes`: the Servers page's rows, for administrators'
//! tokens only.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::problem::{ApiResult, Problem};
use super::responses::Administrators;
use crate::state::AppState;

/// An exit as the Servers page shows it to administrators.
#[derive(Serialize, ToSchema)]
pub struct ExitView {
    /// The exit's id.
    id: i64,
    /// Its name.
    name: String,
    /// The upstream without credentials.
    upstream: Option<String>,
    /// ISO country code, lower case.
    country: String,
    /// City tag.
    city: Option<String>,
    /// Pool.
    pool: String,
    /// Enabled in the directory.
    enabled: bool,
    /// `healthy`, `unhealthy`, `unknown` (not checked yet) or `disabled`.
    health: String,
    /// Why the last check failed.
    last_error: Option<String>,
    /// Recent connect latency.
    latency_ms: Option<i64>,
    /// Share of connects and probes that worked, when there were any.
    success_rate: Option<f64>,
    /// Connections relayed through it now.
    active_connections: u32,
    /// Last check, epoch milliseconds.
    last_check_at_ms: Option<i64>,
}

/// Every exit.
#[derive(Serialize, ToSchema)]
pub struct ExitsView {
    /// By id.
    exits: Vec<ExitView>,
}

/// Every exit with its health (administrators' tokens only).
#[utoipa::path(
    get, path = "/admin/exits", tag = "admin", security(("token" = [])),
    responses(
        (status = 200, description = "The exits", body = ExitsView),
        Administrators,
    )
)]
pub async fn admin_exits(
    State(state): State<AppState>,
    _caller: ApiCaller,
) -> ApiResult<ExitsView> {
    let exits = store::exits::list(&state.db)
        .await
        .map_err(|e| Problem::store(&e))?;
    let live = (crate::http::pages::exit_telemetry(&state.live).0)();
    let utc = app::api::zone::parse("UTC");
    let exits = exits
        .into_iter()
        .map(|e| {
            let row = app::api::servers::server_row(
                &e,
                live.iter().find(|l| l.id == e.id.get()),
                true,
                utc,
            );
            ExitView {
                id: row.id,
                name: row.name,
                upstream: row.upstream,
                country: e.country,
                city: row.city,
                pool: e.pool,
                enabled: row.enabled,
                health: row.health,
                last_error: row.last_error,
                latency_ms: row.latency_ms,
                success_rate: row.success_rate,
                active_connections: row.active_connections,
                last_check_at_ms: e.last_check_at,
            }
        })
        .collect();
    Ok(Json(ExitsView { exits }))
}

/// One node of the cluster.
#[derive(Serialize, ToSchema)]
pub struct NodeView {
    /// The node's id.
    node: String,
    /// `all`, `web` or `gateway`.
    role: String,
    /// Where it runs.
    region: String,
    /// `up`, `degraded` (on local limits: the shared state is unreachable) or `down`.
    health: String,
    /// Client connections open on it.
    open_connections: u64,
    /// Its machine's load per core.
    load: Option<f64>,
    /// Its addresses and version.
    detail: Option<String>,
    /// Seconds since its last report.
    seen_secs_ago: i64,
}

/// The cluster's nodes.
#[derive(Serialize, ToSchema)]
pub struct NodesView {
    /// Whether the service runs as a cluster; `false`: one process, `nodes` empty.
    cluster: bool,
    /// The nodes.
    nodes: Vec<NodeView>,
}

/// The cluster's nodes (administrators' tokens only).
#[utoipa::path(
    get, path = "/admin/nodes", tag = "admin", security(("token" = [])),
    responses(
        (status = 200, description = "The nodes", body = NodesView),
        Administrators,
    )
)]
pub async fn admin_nodes(
    State(state): State<AppState>,
    _caller: ApiCaller,
) -> ApiResult<NodesView> {
    let nodes = (crate::http::pages::cluster_nodes(&state.gateways).0)().await;
    let now = store::now_ms();
    Ok(Json(NodesView {
        cluster: nodes.is_some(),
        nodes: nodes
            .unwrap_or_default()
            .into_iter()
            .map(|n| {
                let row = app::api::servers::node_row(n, true, now);
                NodeView {
                    node: row.node,
                    role: row.role,
                    region: row.region,
                    health: row.health,
                    open_connections: row.open_connections,
                    load: row.load,
                    detail: row.detail,
                    seen_secs_ago: row.seen_secs_ago,
                }
            })
            .collect(),
    }))
}
