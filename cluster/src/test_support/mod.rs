//! Redis for tests (feature `test-support`): each [`TestRedis`] is a cluster of its own name on
//! the test Redis, so tests run in parallel on one server, and its keys are deleted when it is
//! dropped. [`TestRedis::on_redis_cluster`] starts a Redis Cluster of its own instead.
//!
//! Redis is found through `ATLANTIC_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`). If it
//! cannot be reached, [`TestRedis::new`] fails the test when `CI=true` and otherwise prints a
//! warning and returns `None`, as the PostgreSQL helper does.

mod redis_cluster;

use rand::distr::{Alphanumeric, SampleString};

use crate::test_support::redis_cluster::RedisClusterServers;
use crate::{ClusterState, NodeReport, NodeRole};

/// The environment variable holding the test Redis URL.
pub const REDIS_URL_ENV: &str = "ATLANTIC_TEST_REDIS_URL";
/// The URL used when the variable is not set.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A cluster name of its own on the test Redis.
#[derive(Debug)]
pub struct TestRedis {
    url: String,
    name: String,
    /// The Redis Cluster started for this test, stopped (with its data) on drop.
    servers: Option<RedisClusterServers>,
}

/// Fails the test in CI (`CI=true`), or warns that it is skipped.
fn unavailable(message: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message} (CI=true, so this test fails instead of skipping)");
    }
    eprintln!("\n!!!!! WARNING: {message}; SKIPPING this Redis test !!!!!\n");
}

fn fresh_name() -> String {
    format!(
        "atl_t_{}",
        Alphanumeric
            .sample_string(&mut rand::rng(), 12)
            .to_lowercase()
    )
}

impl TestRedis {
    /// A fresh cluster name, or `None` (outside CI) when Redis is unreachable.
    pub async fn new() -> Option<TestRedis> {
        let url = std::env::var(REDIS_URL_ENV).unwrap_or_else(|_| DEFAULT_REDIS_URL.to_owned());
        let name = fresh_name();
        let probe = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            ClusterState::connect(&url, &name, "probe"),
        )
        .await;
        if let Err(why) = probe
            .map_err(|_| "timed out".to_owned())
            .and_then(|r| r.map_err(|e| e.to_string()))
        {
            unavailable(&format!(
                "Redis at {url} is unreachable ({why}); set {REDIS_URL_ENV}"
            ));
            return None;
        }
        Some(TestRedis {
            url,
            name,
            servers: None,
        })
    }

    /// A Redis Cluster of three primaries started for this test on free loopback ports
    /// (Debian's `redis-server` and `redis-cli`), stopped when this is dropped; `None` (outside
    /// CI) when `redis-server` is not installed.
    pub async fn on_redis_cluster() -> Option<TestRedis> {
        let servers = match RedisClusterServers::start(3).await {
            Ok(servers) => servers,
            Err(why) => {
                unavailable(&format!("cannot start a Redis Cluster: {why}"));
                return None;
            }
        };
        Some(TestRedis {
            url: servers.url(),
            name: fresh_name(),
            servers: Some(servers),
        })
    }

    /// Whether this is a Redis Cluster started for the test.
    pub fn is_redis_cluster(&self) -> bool {
        self.servers.is_some()
    }

    /// The URL of each server of the Redis Cluster (empty for a single server).
    pub fn server_urls(&self) -> Vec<String> {
        self.servers
            .as_ref()
            .map(RedisClusterServers::server_urls)
            .unwrap_or_default()
    }

    /// The Redis URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The cluster's name (`ATLANTIC_CLUSTER_NAME` for a service under test).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Connects as node `node` of the test cluster.
    pub async fn node(&self, node: &str) -> ClusterState {
        ClusterState::connect(&self.url, &self.name, node)
            .await
            .expect("the test Redis answered a moment ago")
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        if self.servers.is_some() {
            return; // the servers stop with their data
        }
        // Synchronous on purpose: drop may run outside a runtime, or in one that is ending.
        let pattern = crate::keys::Keys::new(&self.name).all();
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut connection) = client.get_connection() else {
            return;
        };
        let keys: Vec<String> = match redis::cmd("KEYS").arg(&pattern).query(&mut connection) {
            Ok(keys) => keys,
            Err(_) => return,
        };
        if !keys.is_empty() {
            let _: Result<i64, _> = redis::cmd("DEL").arg(keys).query(&mut connection);
        }
    }
}

/// A gateway's report as node `node` made at `reported_at_ms` (started a second earlier).
pub fn gateway_report(node: &str, reported_at_ms: i64) -> NodeReport {
    NodeReport {
        node: node.to_owned(),
        role: NodeRole::Gateway,
        region: "eu-west".to_owned(),
        version: "0.1.0".to_owned(),
        addresses: vec!["127.0.0.1:8080".to_owned()],
        open_connections: 3,
        load: 0.5,
        shared_state: true,
        started_at_ms: reported_at_ms - 1_000,
        reported_at_ms,
    }
}
