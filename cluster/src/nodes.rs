//! The node registry: every node writes a [`NodeReport`] into one Redis hash each second, and
//! the dashboard lists them with their health. A node that stops reporting for
//! [`DOWN_AFTER`] is shown down; after [`FORGET_AFTER`] it is dropped from the list. A node
//! that stops on purpose takes itself out at once, before it drains.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{ClusterState, Error};

/// A node whose report is older than this is down.
pub const DOWN_AFTER: Duration = Duration::from_secs(5);
/// A node down for this long is forgotten.
pub const FORGET_AFTER: Duration = Duration::from_secs(3600);

/// What a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum NodeRole {
    /// Gateway and dashboard in one process.
    All,
    /// The dashboard, the API, billing and the jobs.
    Web,
    /// The proxy ports only.
    Gateway,
}

impl NodeRole {
    /// The role's name, as `--role` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::All => "all",
            NodeRole::Web => "web",
            NodeRole::Gateway => "gateway",
        }
    }
}

/// One node's latest report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeReport {
    /// The node's id (unique in the cluster).
    pub node: String,
    pub role: NodeRole,
    /// Where it runs, as the operator named it.
    pub region: String,
    /// The `atlantic` version it runs.
    pub version: String,
    /// The addresses it serves (proxy ports for a gateway, the dashboard for a web node).
    pub addresses: Vec<String>,
    /// Client connections open on it now (gateways).
    pub open_connections: u64,
    /// Its machine's one-minute load average per core.
    pub load: f64,
    /// Whether it works on the cluster's shared state (`false`: degraded, local limits).
    pub shared_state: bool,
    /// When it started, epoch milliseconds.
    pub started_at_ms: i64,
    /// When it wrote this report, epoch milliseconds (its clock).
    pub reported_at_ms: i64,
}

/// A node as the registry sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeStatus {
    pub report: NodeReport,
    /// Whether it reported within [`DOWN_AFTER`].
    pub up: bool,
}

impl ClusterState {
    /// Writes this node's report.
    pub async fn report(&self, report: &NodeReport) -> Result<(), Error> {
        let json = serde_json::to_string(report).map_err(|e| {
            redis::RedisError::from((redis::ErrorKind::Client, "node report", e.to_string()))
        })?;
        let mut connection = self.connection();
        redis::cmd("HSET")
            .arg(self.keys.nodes())
            .arg(&*self.node)
            .arg(json)
            .query_async::<i64>(&mut connection)
            .await
            .map(drop)
    }

    /// Takes this node out of the registry (it is stopping on purpose).
    pub async fn deregister(&self) -> Result<(), Error> {
        let mut connection = self.connection();
        redis::cmd("HDEL")
            .arg(self.keys.nodes())
            .arg(&*self.node)
            .query_async::<i64>(&mut connection)
            .await
            .map(drop)
    }

    /// Every node reported within [`FORGET_AFTER`], by id, with its health as of `now_ms`;
    /// older entries are removed.
    pub async fn nodes(&self, now_ms: i64) -> Result<Vec<NodeStatus>, Error> {
        let mut connection = self.connection();
        let entries: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.keys.nodes())
            .query_async(&mut connection)
            .await?;
        let down_after = i64::try_from(DOWN_AFTER.as_millis()).unwrap_or(i64::MAX);
        let forget_after = i64::try_from(FORGET_AFTER.as_millis()).unwrap_or(i64::MAX);
        let mut nodes = Vec::new();
        let mut forget = Vec::new();
        for (node, json) in entries {
            let Ok(report) = serde_json::from_str::<NodeReport>(&json) else {
                forget.push(node);
                continue;
            };
            let age = now_ms.saturating_sub(report.reported_at_ms);
            if age > forget_after {
                forget.push(node);
                continue;
            }
            nodes.push(NodeStatus {
                up: age <= down_after,
                report,
            });
        }
        if !forget.is_empty() {
            redis::cmd("HDEL")
                .arg(self.keys.nodes())
                .arg(forget)
                .query_async::<i64>(&mut connection)
                .await?;
        }
        nodes.sort_by(|a, b| a.report.node.cmp(&b.report.node));
        Ok(nodes)
    }
}
