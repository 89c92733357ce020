//! This process as one node of a cluster: it connects to the shared Redis, reports itself to
//! the node registry every second (with its live statistics when it runs a gateway), reloads
//! its gateway's directory when another node announces a change, and leaves the registry when
//! it stops.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cluster::{Change, ClusterState, NodeReport, NodeRole};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Role};
use crate::state::GatewayStatus;

/// How often the node reports.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Connects to the cluster's Redis, if one is configured. A Redis that is down at start-up is
/// no reason not to start: the connection comes up when Redis does, and a gateway serves on
/// its local limits meanwhile.
pub async fn connect(config: &Config) -> anyhow::Result<Option<ClusterState>> {
    let Some(url) = &config.cluster.redis_url else {
        return Ok(None);
    };
    let settings = &config.cluster;
    let cluster = ClusterState::connect_lazily(url.expose(), &settings.name, &settings.node_id)
        .context("ATLANTIC_REDIS_URL")?
        .with_lease_time(settings.lease);
    match tokio::time::timeout(Duration::from_secs(2), cluster.ping()).await {
        Ok(Ok(())) => tracing::info!(
            cluster = %settings.name,
            node = %settings.node_id,
            role = settings.role.as_str(),
            "joined the cluster"
        ),
        _ => tracing::warn!(
            "ATLANTIC_REDIS_URL: Redis does not answer yet; starting anyway (gateways serve on \
             local limits until it does)"
        ),
    }
    Ok(Some(cluster))
}

fn role(role: Role) -> NodeRole {
    match role {
        Role::All => NodeRole::All,
        Role::Web => NodeRole::Web,
        Role::Gateway => NodeRole::Gateway,
    }
}

/// The machine's one-minute load average per core.
fn load() -> f64 {
    let one_minute = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    one_minute / cores as f64
}

/// Reports the node every second until `shutdown`, then takes it out of the registry at once
/// (a draining gateway takes no new connections).
pub async fn report(
    cluster: ClusterState,
    config: Arc<Config>,
    gateway: Option<GatewayStatus>,
    addresses: Vec<String>,
    shutdown: CancellationToken,
) {
    let started_at_ms = store::now_ms();
    let mut tick = tokio::time::interval(REPORT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => break,
        }
        let snapshot = gateway.as_ref().map(|g| g.handle.stats().snapshot());
        let shared_state = gateway
            .as_ref()
            .and_then(|g| g.handle.cluster_status())
            .is_none_or(|(up, _)| up);
        let report = NodeReport {
            node: cluster.node().to_owned(),
            role: role(config.cluster.role),
            region: config.cluster.region.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            addresses: addresses.clone(),
            open_connections: snapshot.as_ref().map_or(0, |s| s.global.active_connections),
            load: load(),
            shared_state,
            started_at_ms,
            reported_at_ms: store::now_ms(),
        };
        let mut result = cluster.report(&report).await;
        if let (Ok(()), Some(g)) = (&result, &gateway) {
            // the request batches are sized by the number of live gateways
            match cluster.nodes(store::now_ms()).await {
                Ok(nodes) => {
                    let gateways = nodes
                        .iter()
                        .filter(|n| n.up && n.report.role != NodeRole::Web)
                        .count();
                    g.handle
                        .set_cluster_gateways(u32::try_from(gateways).unwrap_or(u32::MAX));
                }
                Err(error) => result = Err(error),
            }
        }
        if let (Ok(()), Some(snapshot)) = (&result, &snapshot) {
            result = cluster.publish_stats(snapshot).await;
        }
        match result {
            Ok(()) if failing => {
                failing = false;
                tracing::info!("node registry: reporting again");
            }
            Ok(()) => {}
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(%error, "node registry: cannot report this node");
            }
            Err(_) => {}
        }
    }
    match tokio::time::timeout(Duration::from_secs(2), cluster.deregister()).await {
        Ok(Ok(())) => tracing::info!("left the node registry"),
        Ok(Err(error)) => tracing::warn!(%error, "leaving the node registry failed"),
        Err(_) => tracing::warn!("leaving the node registry timed out"),
    }
}

/// Acts on the other nodes' change notices until `shutdown`: reloads the gateway's directory,
/// or ends a sticky session here too.
pub async fn follow_changes(
    cluster: ClusterState,
    gateway: proxy::GatewayHandle,
    shutdown: CancellationToken,
) {
    cluster
        .follow_changes(shutdown, move |change: Change| match change {
            Change::SessionEnded {
                account_id,
                session,
            } => {
                gateway.end_session(account_id, &session);
            }
            // accounts, credentials, allowlists, plans, exits: all in the directory it loads
            _ => gateway.refresh_now(),
        })
        .await;
}
