//! The Servers page's data: exits grouped by pool and country with their health, recent
//! latency, success rate, open connections and last check. Customers see the enabled exits
//! by name and place; administrators also see upstream addresses (never credentials) and
//! disabled exits, and manage them with form posts (`/admin/exits…`).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One exit as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerRow {
    /// The exit's id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The upstream without credentials (administrators only).
    pub upstream: Option<String>,
    /// City tag.
    pub city: Option<String>,
    /// Enabled in the directory.
    pub enabled: bool,
    /// `healthy`, `unhealthy`, `unknown` (not checked yet) or `disabled`.
    pub health: String,
    /// Why the last check failed (administrators only).
    pub last_error: Option<String>,
    /// Recent connect latency.
    pub latency_ms: Option<i64>,
    /// Share of connects and probes that worked, when there were any.
    pub success_rate: Option<f64>,
    /// Connections relayed through it now.
    pub active_connections: u32,
    /// Last check, in the viewer's zone.
    pub last_check: Option<String>,
}

/// Exits of one country within a pool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CountryGroup {
    /// ISO code, lower case.
    pub country: String,
    /// Its exits.
    pub exits: Vec<ServerRow>,
}

/// Exits of one pool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoolGroup {
    /// The pool.
    pub pool: String,
    /// By country, alphabetically.
    pub countries: Vec<CountryGroup>,
}

/// One node of the cluster as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeRow {
    /// The node's id.
    pub node: String,
    /// `all`, `web` or `gateway`.
    pub role: String,
    /// Where it runs.
    pub region: String,
    /// `up`, `degraded` (serving on local limits: the shared state is unreachable) or `down`
    /// (no report for a while).
    pub health: String,
    /// Client connections open on it.
    pub open_connections: u64,
    /// Its machine's load per core (administrators only).
    pub load: Option<f64>,
    /// Its addresses and version (administrators only).
    pub detail: Option<String>,
    /// How long ago it last reported, in seconds.
    pub seen_secs_ago: i64,
}

/// Everything the Servers page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServersView {
    /// The viewer may manage exits.
    pub admin: bool,
    /// The cluster's nodes, when the service runs as several (`None`: one process).
    pub nodes: Option<Vec<NodeRow>>,
    /// By pool, alphabetically.
    pub pools: Vec<PoolGroup>,
    /// Healthy enabled exits.
    pub healthy: usize,
    /// Enabled exits.
    pub enabled: usize,
}

/// The exits the viewer may see.
#[server(endpoint = "servers")]
pub async fn servers_overview() -> Result<ServersView, ServerFnError> {
    use std::collections::BTreeMap;

    use crate::api::{access, zone};
    let (db, account) = access::signed_in()?;
    let admin = crate::api::session::ssr::viewer().is_some_and(|v| v.admin);
    let exits = store::exits::list(&db)
        .await
        .map_err(access::internal("the server list is"))?;
    let live = use_context::<ssr::ExitTelemetry>()
        .map(|t| (t.0)())
        .unwrap_or_default();
    let tz = zone::of(&db, account).await;
    let nodes = match use_context::<ssr::ClusterNodes>() {
        Some(nodes) => (nodes.0)().await.map(|nodes| {
            let now = store::now_ms();
            nodes.into_iter().map(|n| node_row(n, admin, now)).collect()
        }),
        None => None,
    };
    let mut pools: BTreeMap<String, BTreeMap<String, Vec<ServerRow>>> = BTreeMap::new();
    let (mut healthy, mut enabled) = (0, 0);
    for e in exits.into_iter().filter(|e| admin || e.enabled) {
        let row = server_row(&e, live.iter().find(|l| l.id == e.id.get()), admin, tz);
        if e.enabled {
            enabled += 1;
            healthy += usize::from(row.health == "healthy");
        }
        pools
            .entry(e.pool)
            .or_default()
            .entry(e.country)
            .or_default()
            .push(row);
    }
    Ok(ServersView {
        admin,
        nodes,
        pools: pools
            .into_iter()
            .map(|(pool, countries)| PoolGroup {
                pool,
                countries: countries
                    .into_iter()
                    .map(|(country, exits)| CountryGroup { country, exits })
                    .collect(),
            })
            .collect(),
        healthy,
        enabled,
    })
}

/// An exit as the viewer may see it, with the gateway's live view of it (`now`), times in
/// `tz`.
#[cfg(feature = "ssr")]
pub fn server_row(
    e: &store::exits::Exit,
    now: Option<&ssr::ExitLive>,
    admin: bool,
    tz: chrono_tz::Tz,
) -> ServerRow {
    use crate::api::zone;
    // The engine's view is fresher; the table's survives restarts.
    let health = if !e.enabled {
        "disabled".to_owned()
    } else if let Some(l) = now.filter(|l| l.checked) {
        if l.healthy { "healthy" } else { "unhealthy" }.to_owned()
    } else {
        e.health.as_str().to_owned()
    };
    let (ok, failed) = match now {
        Some(l) if l.successes + l.failures > 0 => (l.successes, l.failures),
        _ => (
            u64::try_from(e.success_count).unwrap_or(0),
            u64::try_from(e.failure_count).unwrap_or(0),
        ),
    };
    ServerRow {
        id: e.id.get(),
        upstream: admin.then(|| e.display_url()),
        name: e.name.clone(),
        city: e.city.clone(),
        enabled: e.enabled,
        health,
        last_error: if admin { e.last_error.clone() } else { None },
        latency_ms: now.and_then(|l| l.latency_ms).or(e.last_latency_ms),
        success_rate: (ok + failed > 0).then(|| ok as f64 / (ok + failed) as f64),
        active_connections: now.map_or(0, |l| l.active_connections),
        last_check: e.last_check_at.map(|ms| zone::date_time(tz, ms)),
    }
}

/// A node as the viewer may see it.
#[cfg(feature = "ssr")]
pub fn node_row(n: ssr::NodeLive, admin: bool, now_ms: i64) -> NodeRow {
    let health = if !n.up {
        "down"
    } else if !n.shared_state {
        "degraded"
    } else {
        "up"
    };
    NodeRow {
        node: n.node,
        role: n.role,
        region: n.region,
        health: health.to_owned(),
        open_connections: n.open_connections,
        load: admin.then_some(n.load),
        detail: admin.then(|| format!("{} · v{}", n.addresses.join(", "), n.version)),
        seen_secs_ago: (now_ms - n.reported_at_ms).max(0) / 1000,
    }
}

/// Server side: how the server hands the page the gateways' live view of the exits and the
/// cluster's nodes.
#[cfg(feature = "ssr")]
pub mod ssr {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;

    /// One node of the cluster, from the node registry.
    #[derive(Clone, Debug, Default)]
    pub struct NodeLive {
        pub node: String,
        pub role: String,
        pub region: String,
        pub version: String,
        pub addresses: Vec<String>,
        pub open_connections: u64,
        pub load: f64,
        /// It reported recently.
        pub up: bool,
        /// It works on the cluster's shared state.
        pub shared_state: bool,
        /// Epoch ms of its last report.
        pub reported_at_ms: i64,
    }

    /// Lists the cluster's nodes now (`None`: not a cluster, or the registry is unreachable).
    #[derive(Clone)]
    #[allow(clippy::type_complexity)]
    pub struct ClusterNodes(
        pub  Arc<
            dyn Fn() -> Pin<Box<dyn Future<Output = Option<Vec<NodeLive>>> + Send>> + Send + Sync,
        >,
    );

    /// One exit as the running gateway sees it.
    #[derive(Clone, Debug, Default)]
    pub struct ExitLive {
        /// Exit id.
        pub id: i64,
        /// Whether anything (a connect or a probe) went through it since start.
        pub checked: bool,
        /// Enabled and its breaker closed.
        pub healthy: bool,
        /// Connections through it now.
        pub active_connections: u32,
        /// Recent connect latency.
        pub latency_ms: Option<i64>,
        /// Successful connects and probes since start.
        pub successes: u64,
        /// Failed connects and probes since start.
        pub failures: u64,
    }

    /// Reads the gateway's exits now.
    #[derive(Clone)]
    pub struct ExitTelemetry(pub std::sync::Arc<dyn Fn() -> Vec<ExitLive> + Send + Sync>);
}
