//! Redis for tests (feature `test-support`): each [`TestRedis`] is a cluster of its own name on
//! the test Redis, so tests run in parallel on one server, and its keys are deleted when it is
//! dropped.
//!
//! Redis is found through `ATLANTIC_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`). If it
//! cannot be reached, [`TestRedis::new`] fails the test when `CI=true` and otherwise prints a
//! warning and returns `None`, as the PostgreSQL helper does.

use rand::distr::{Alphanumeric, SampleString};

use crate::ClusterState;

/// The environment variable holding the test Redis URL.
pub const REDIS_URL_ENV: &str = "ATLANTIC_TEST_REDIS_URL";
/// The URL used when the variable is not set.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A cluster name of its own on the test Redis.
#[derive(Debug)]
pub struct TestRedis {
    url: String,
    name: String,
}

impl TestRedis {
    /// A fresh cluster name, or `None` (outside CI) when Redis is unreachable.
    pub async fn new() -> Option<TestRedis> {
        let url = std::env::var(REDIS_URL_ENV).unwrap_or_else(|_| DEFAULT_REDIS_URL.to_owned());
        let name = format!(
            "atl_t_{}",
            Alphanumeric
                .sample_string(&mut rand::rng(), 12)
                .to_lowercase()
        );
        let probe = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            ClusterState::connect(&url, &name, "probe"),
        )
        .await;
        if let Err(why) = probe
            .map_err(|_| "timed out".to_owned())
            .and_then(|r| r.map_err(|e| e.to_string()))
        {
            let message = format!("Redis at {url} is unreachable ({why}); set {REDIS_URL_ENV}");
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{message} (CI=true, so this test fails instead of skipping)");
            }
            eprintln!("\n!!!!! WARNING: {message}; SKIPPING this Redis test !!!!!\n");
            return None;
        }
        Some(TestRedis { url, name })
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
