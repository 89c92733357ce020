//! What the dashboard knows of the gateways, and how it reaches them: the gateway in this
//! process (role `all`), the cluster's gateways through Redis (role `web`, and `all` when it is
//! one node of several), or both.
//!
//! - A change to accounts, credentials, allowlists, plans or exits reloads the local gateway's
//!   directory at once and announces the change to every other node ([`Gateways::refresh_now`]).
//! - Live statistics are the local gateway's alone, or in a cluster every gateway's added up
//!   ([`Gateways::snapshot`]).

use std::net::SocketAddr;

use cluster::{Change, ClusterState, NodeStatus};
use proxy::StatsSnapshot;

use crate::state::GatewayStatus;

/// The gateways as the dashboard sees them (cheap to clone).
#[derive(Clone)]
pub struct Gateways {
    local: Option<GatewayStatus>,
    cluster: Option<ClusterState>,
    /// The proxy addresses customers are told to use (the Settings page's connection
    /// builder): the local gateway's, or the configured ones in a web node.
    pub http_addr: SocketAddr,
    pub socks_addr: SocketAddr,
}

impl Gateways {
    /// The gateways of a process with `local` (its own gateway, if it runs one) and `cluster`
    /// (the shared Redis, if any); `configured` are the proxy addresses from the
    /// configuration, for a process without a gateway of its own.
    pub fn new(
        local: Option<GatewayStatus>,
        cluster: Option<ClusterState>,
        configured: (SocketAddr, SocketAddr),
    ) -> Gateways {
        let (http_addr, socks_addr) = local
            .as_ref()
            .map_or(configured, |g| (g.http_addr, g.socks_addr));
        Gateways {
            local,
            cluster,
            http_addr,
            socks_addr,
        }
    }

    /// The gateway in this process, if it runs one.
    pub fn local(&self) -> Option<&GatewayStatus> {
        self.local.as_ref()
    }

    /// The shared Redis, in a cluster.
    pub fn cluster(&self) -> Option<&ClusterState> {
        self.cluster.as_ref()
    }

    /// Whether this process's gateway has stopped listening (never, without one).
    pub fn proxy_stopped(&self) -> bool {
        self.local
            .as_ref()
            .is_some_and(|g| g.stopped.is_cancelled())
    }

    /// Reloads the local gateway's directory now and tells the cluster's other gateways to
    /// (best effort: their periodic refresh covers a lost notice).
    pub fn refresh_now(&self) {
        if let Some(local) = &self.local {
            local.handle.refresh_now();
        }
        if let Some(cluster) = self.cluster.clone() {
            tokio::spawn(async move {
                if let Err(error) = cluster.publish(Change::Directory).await {
                    tracing::warn!(%error, "announcing a directory change to the cluster failed");
                }
            });
        }
    }

    /// Ends a sticky session of `account_id` everywhere: its binding goes (the next request
    /// with its id picks an exit anew) and its open connections close, on this process's
    /// gateway and, through the cluster, on every other. Whether it was alive anywhere we
    /// could tell; an error when the cluster could not be told.
    pub async fn end_session(&self, account_id: i64, session: &str) -> anyhow::Result<bool> {
        let mut alive = self
            .local
            .as_ref()
            .is_some_and(|local| local.handle.end_session(account_id, session));
        if let Some(cluster) = &self.cluster {
            let ended = tokio::time::timeout(
                std::time::Duration::from_secs(2),
                cluster.end_session(account_id, session),
            )
            .await
            .map_err(|_| anyhow::anyhow!("the cluster did not answer in time"))??;
            alive |= ended;
        }
        Ok(alive)
    }

    /// Probes one exit now from the local gateway; `false` when this process runs none.
    pub async fn probe_exit(&self, exit_id: i64) -> bool {
        match &self.local {
            Some(local) => {
                local.handle.probe_exit(exit_id).await;
                true
            }
            None => false,
        }
    }

    /// Live statistics: in a cluster every gateway's added up (the local one's alone when
    /// Redis does not answer), otherwise the local gateway's.
    pub async fn snapshot(&self) -> StatsSnapshot {
        let local = || {
            self.local
                .as_ref()
                .map(|g| g.handle.stats().snapshot())
                .unwrap_or_else(|| cluster::merge_stats(Vec::new(), store::now_ms()))
        };
        let Some(cluster) = &self.cluster else {
            return local();
        };
        let fetched = tokio::time::timeout(
            std::time::Duration::from_millis(500),
            cluster.cluster_stats(store::now_ms()),
        )
        .await;
        match fetched {
            Ok(Ok(snapshot)) => snapshot,
            Ok(Err(error)) => {
                tracing::debug!(%error, "cluster statistics unavailable; showing this node's");
                local()
            }
            Err(_) => local(),
        }
    }

    /// The cluster's nodes with their health, or `None` for a process on its own (or when
    /// Redis does not answer).
    pub async fn nodes(&self) -> Option<Vec<NodeStatus>> {
        let cluster = self.cluster.as_ref()?;
        let listed = tokio::time::timeout(
            std::time::Duration::from_millis(500),
            cluster.nodes(store::now_ms()),
        )
        .await;
        match listed {
            Ok(Ok(nodes)) => Some(nodes),
            Ok(Err(error)) => {
                tracing::warn!(%error, "listing the cluster's nodes failed");
                None
            }
            Err(_) => None,
        }
    }
}
