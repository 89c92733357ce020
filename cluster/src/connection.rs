//! One connection over either deployment: a single Redis server through redis-rs's connection
//! manager, or a Redis Cluster through its cluster client, which keeps the slot map, routes
//! each command to the primary holding its key (splitting a multi-key `MGET` by slot) and
//! follows `MOVED` redirections. Both multiplex every caller over one connection per server
//! and reconnect by themselves.
//!
//! What the cluster client cannot route, the callers avoid: a pipeline goes to one slot, so
//! pipelines only ever touch one account's keys (one hash tag).

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::{Error, RedisAddress};

/// Each call is bounded by its caller (the gateway waits 50 ms); the connection only has to
/// notice a dead server and reconnect in the background.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub(crate) enum Connection {
    Server(ConnectionManager),
    Cluster(ClusterConnection),
}

fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500))
}

fn cluster_config() -> ClusterConfig {
    ClusterConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(RESPONSE_TIMEOUT)
}

fn cluster_client(seeds: &[String]) -> Result<redis::cluster::ClusterClient, Error> {
    ClusterClientBuilder::new(seeds.iter().map(String::as_str))
        .retries(2)
        .max_retry_wait(500)
        .build()
}

impl Connection {
    /// Connects now: fails if Redis does not answer.
    pub(crate) async fn open(address: &RedisAddress) -> Result<Connection, Error> {
        Ok(match address {
            RedisAddress::Server(url) => Connection::Server(
                redis::Client::open(url.as_str())?
                    .get_connection_manager_with_config(manager_config())
                    .await?,
            ),
            RedisAddress::Cluster(seeds) => Connection::Cluster(
                cluster_client(seeds)?
                    .get_async_connection_with_config(cluster_config())
                    .await?,
            ),
        })
    }

    /// Connects on first use (and again whenever the connection is lost).
    pub(crate) fn open_lazily(address: &RedisAddress) -> Result<Connection, Error> {
        Ok(match address {
            RedisAddress::Server(url) => {
                Connection::Server(ConnectionManager::new_lazy_with_config(
                    redis::Client::open(url.as_str())?,
                    manager_config(),
                )?)
            }
            RedisAddress::Cluster(seeds) => Connection::Cluster(
                cluster_client(seeds)?.get_pending_async_connection_with_config(cluster_config()),
            ),
        })
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Server(c) => c.req_packed_command(cmd),
            Connection::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Server(c) => c.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Server(c) => c.get_db(),
            Connection::Cluster(c) => c.get_db(),
        }
    }
}
