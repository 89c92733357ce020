//! Two gateways in one process sharing one Redis: the limits hold across them, and a gateway
//! whose Redis goes away (or turns slow) keeps serving on its local limits without losing a
//! metered byte. The gateways are the real engine, from the proxy crate's own test harness.

#[path = "../../../proxy/tests/gateway/support/mod.rs"]
mod support;

mod limits;
mod relay;
mod resilience;
mod sessions;

use std::time::Duration;

use cluster::ClusterState;
use proxy::PlanLimits;
use tokio::net::TcpListener;

use crate::support::{MemDirectory, TestGateway, test_config};

/// A plan of `rps` requests a second, `connections` at once and `bandwidth` bytes.
fn plan(rps: u32, connections: u32, bandwidth: Option<u64>) -> PlanLimits {
    PlanLimits {
        requests_per_second: rps,
        max_connections: connections,
        bandwidth_bytes: bandwidth,
        bytes_used: 0,
        period_start_ms: 1_700_000_000_000,
    }
}

/// A gateway on `dir` that is node `shared` of a cluster.
async fn node(dir: &MemDirectory, shared: ClusterState) -> TestGateway {
    node_with(dir, shared, test_config()).await
}

async fn node_with(
    dir: &MemDirectory,
    shared: ClusterState,
    config: proxy::GatewayConfig,
) -> TestGateway {
    let http = TcpListener::bind("127.0.0.1:0").await.expect("bind http");
    let socks = TcpListener::bind("127.0.0.1:0").await.expect("bind socks");
    TestGateway::start_with(config, dir.clone(), http, socks, |gw| {
        gw.with_shared_state(shared)
    })
    .await
}

/// Waits for the gateways' first directory load.
async fn ready(gateways: &[&TestGateway]) {
    for g in gateways {
        support::eventually(5, || g.handle.stats().snapshot().ready).await;
    }
}

/// Lets every node's once-a-second sync (leases, byte totals) run.
async fn sync_round() {
    tokio::time::sleep(Duration::from_millis(1_300)).await;
}
