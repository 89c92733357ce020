//! AtlanticProxy's cluster state, in Redis: what several gateway nodes and dashboard nodes on
//! one PostgreSQL must share to act as one service. PostgreSQL stays the source of truth (and
//! the billing record); Redis holds the fast, short-lived shared state:
//!
//! - the gateways' shared limits ([`proxy::SharedState`]): requests-per-second buckets,
//!   connection-slot leases, period byte totals, sticky sessions ([`shared_limits`]);
//! - the node registry, with each node's latest report ([`nodes`]), and each gateway's live
//!   statistics, added up for the dashboard ([`live`]);
//! - change notices, so a credential, allowlist or exit change reaches every gateway within a
//!   second ([`changes`]).
//!
//! The atomic parts are Lua scripts (`src/scripts/`), each touching one key. Keys carry
//! per-account hash tags ([`keys`]), so the same code runs on one Redis server or on a Redis
//! Cluster ([`RedisAddress`], [`connection`]).

mod address;
mod changes;
mod connection;
mod keys;
mod live;
mod nodes;
mod scripts;
mod sessions;
mod shared_limits;
#[cfg(feature = "test-support")]
pub mod test_support;

use std::sync::Arc;
use std::time::Duration;

pub use crate::address::RedisAddress;
pub use crate::changes::Change;
use crate::connection::Connection;
use crate::keys::Keys;
pub use crate::live::{STATS_KEPT, merge as merge_stats};
pub use crate::nodes::{NodeReport, NodeRole, NodeStatus};
use crate::scripts::Scripts;

/// What went wrong talking to Redis.
pub type Error = redis::RedisError;

/// How long a connection slot lease lives unless its node renews it (it renews every second).
pub const LEASE_TIME: Duration = Duration::from_secs(30);

/// One node's connection to the cluster's Redis. Cheap to clone: clones share the connection,
/// which reconnects by itself after Redis went away.
#[derive(Clone)]
pub struct ClusterState {
    connection: Connection,
    /// Where change notices are subscribed to (the first that answers).
    subscribe_to: Arc<[String]>,
    keys: Arc<Keys>,
    scripts: Arc<Scripts>,
    node: Arc<str>,
    lease_time: Duration,
}

impl std::fmt::Debug for ClusterState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterState")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl ClusterState {
    /// Connects to Redis at `url` (one server, or a Redis Cluster: see [`RedisAddress`]) as
    /// node `node` of the cluster called `name` (the prefix of every key, so several clusters
    /// can share one Redis).
    pub async fn connect(url: &str, name: &str, node: &str) -> Result<ClusterState, Error> {
        let address = address(url)?;
        let connection = Connection::open(&address).await?;
        let state = ClusterState::over(&address, connection, name, node);
        state.ping().await?;
        Ok(state)
    }

    /// Like [`ClusterState::connect`], without waiting for Redis: the connection is made on
    /// first use (and again whenever it is lost), so a node can start while Redis is down.
    pub fn connect_lazily(url: &str, name: &str, node: &str) -> Result<ClusterState, Error> {
        let address = address(url)?;
        let connection = Connection::open_lazily(&address)?;
        Ok(ClusterState::over(&address, connection, name, node))
    }

    fn over(
        address: &RedisAddress,
        connection: Connection,
        name: &str,
        node: &str,
    ) -> ClusterState {
        ClusterState {
            connection,
            subscribe_to: address.subscription_urls().into(),
            keys: Arc::new(Keys::new(name)),
            scripts: Arc::new(Scripts::default()),
            node: Arc::from(node),
            lease_time: LEASE_TIME,
        }
    }

    /// The same connection with connection-slot leases that lapse after `lease_time` instead of
    /// [`LEASE_TIME`] (tests wait out a dead node's lease with it).
    pub fn with_lease_time(mut self, lease_time: Duration) -> ClusterState {
        self.lease_time = lease_time;
        self
    }

    /// The same Redis connection, as another node of the cluster (tests run several nodes in
    /// one process).
    pub fn as_node(&self, node: &str) -> ClusterState {
        ClusterState {
            node: Arc::from(node),
            ..self.clone()
        }
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Whether Redis answers.
    pub async fn ping(&self) -> Result<(), Error> {
        let mut connection = self.connection.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map(drop)
    }

    fn connection(&self) -> Connection {
        self.connection.clone()
    }
}

fn address(url: &str) -> Result<RedisAddress, Error> {
    RedisAddress::parse(url).map_err(|why| {
        redis::RedisError::from((redis::ErrorKind::InvalidClientConfig, "Redis URL", why))
    })
}
