//! The gateways' shared limits ([`proxy::SharedState`]) over Redis. Each call is one round trip
//! (a script on one key, or one pipeline on one account's keys); concurrent calls share the
//! multiplexed connection.

use std::time::Duration;

use futures::future::try_join_all;
use proxy::{BoxError, BytesDelta, Grant, SessionBinding, SharedState};

use crate::ClusterState;

/// How long a period's byte total is kept after its last update: past any 30-day period.
const BYTES_KEPT: Duration = Duration::from_secs(45 * 24 * 3600);

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl SharedState for ClusterState {
    async fn take_requests(
        &self,
        account_id: i64,
        per_second: u32,
        want: u32,
    ) -> Result<Grant, BoxError> {
        let per_second = per_second.max(1);
        let interval_micros = (1_000_000 / u64::from(per_second)).max(1);
        let (granted, wait_micros): (u32, i64) = self
            .scripts
            .take_requests
            .key(self.keys.requests(account_id))
            .arg(interval_micros)
            .arg(per_second)
            .arg(want.max(1))
            .invoke_async(&mut self.connection())
            .await?;
        Ok(Grant {
            granted,
            retry_after: Duration::from_micros(u64::try_from(wait_micros).unwrap_or(0)),
        })
    }

    async fn lease_connections(
        &self,
        account_id: i64,
        cap: u32,
        more: u32,
    ) -> Result<bool, BoxError> {
        let leased: i64 = self
            .scripts
            .lease_connections
            .key(self.keys.connections(account_id))
            .arg(&*self.node)
            .arg(cap)
            .arg(more)
            .arg(millis(self.lease_time))
            .invoke_async(&mut self.connection())
            .await?;
        Ok(leased == 1)
    }

    async fn renew_connections(&self, leases: Vec<(i64, u32)>) -> Result<(), BoxError> {
        // concurrent calls on the multiplexed connection go out as one pipeline
        let calls = leases.into_iter().map(|(account_id, slots)| {
            let mut connection = self.connection();
            let key = self.keys.connections(account_id);
            async move {
                self.scripts
                    .renew_connections
                    .key(key)
                    .arg(&*self.node)
                    .arg(slots)
                    .arg(millis(self.lease_time))
                    .invoke_async::<i64>(&mut connection)
                    .await
            }
        });
        try_join_all(calls).await?;
        Ok(())
    }

    async fn add_bytes(&self, deltas: Vec<BytesDelta>) -> Result<Vec<u64>, BoxError> {
        // one small pipeline per account (a Redis Cluster takes a pipeline to one slot only);
        // concurrent calls on the multiplexed connection still go out together
        let calls = deltas.iter().map(|d| {
            let mut connection = self.connection();
            let key = self.keys.bytes(d.account_id, d.period_start_ms);
            let mut pipe = redis::pipe();
            pipe.cmd("INCRBY").arg(&key).arg(d.bytes);
            pipe.cmd("PEXPIRE")
                .arg(&key)
                .arg(millis(BYTES_KEPT))
                .ignore();
            async move {
                let (total,): (u64,) = pipe.query_async(&mut connection).await?;
                Ok::<_, redis::RedisError>(total)
            }
        });
        Ok(try_join_all(calls).await?)
    }

    async fn session(
        &self,
        account_id: i64,
        session: &str,
    ) -> Result<Option<SessionBinding>, BoxError> {
        let found: Option<(i64, i64)> = self
            .scripts
            .session
            .key(self.keys.session(account_id, session))
            .invoke_async(&mut self.connection())
            .await?;
        Ok(found.and_then(|(exit_id, ttl_ms)| {
            // -1: no expiry (never written so), -2: gone meanwhile
            let ttl_ms = u64::try_from(ttl_ms).ok()?;
            Some(SessionBinding {
                exit_id,
                ttl: Duration::from_millis(ttl_ms),
            })
        }))
    }

    async fn bind_session(
        &self,
        account_id: i64,
        session: &str,
        exit_id: i64,
        ttl: Duration,
    ) -> Result<(), BoxError> {
        self.scripts
            .bind_session
            .key(self.keys.session(account_id, session))
            .arg(exit_id)
            .arg(millis(ttl).max(1))
            .invoke_async::<i64>(&mut self.connection())
            .await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), BoxError> {
        Ok(ClusterState::ping(self).await?)
    }
}
