//! The gateway's side of cluster state: how the engine uses a [`SharedState`] without letting
//! it slow down or stop the hot path.
//!
//! - **Requests per second.** A node takes requests from the account's cluster-wide bucket a
//!   batch at a time and uses them within [`LEASE_FRESH`]. The bucket itself never gives out
//!   more than the plan, so the cluster can be ahead of it only by the batches held at one
//!   instant, one per node: a batch is a tenth of the plan's rate divided by the number of
//!   gateways (at least one request), which bounds that to 10 % of the plan. One refill is out
//!   at a time per account: the requests that find the batch used up wait for it.
//! - **Concurrent connections.** A node leases slots from the cluster's count (1 % of the cap
//!   at a time, at least one, one lease call at a time per account), gives back what it no
//!   longer uses each second, and renews what it holds; a node that dies stops renewing, and
//!   its slots lapse.
//! - **Quota.** Each second (the gateway's tick) a node adds its metered bytes to the period's
//!   cluster total and reads the totals back; an account over quota anywhere is cut off
//!   everywhere. The database stays the billing record: metering never waits on the cluster.
//! - **Sticky sessions.** The cluster's binding wins over the node's own; a node writes the
//!   bindings it makes.
//!
//! Every call has [`DEADLINE`]. A failed or slow call puts the node in *degraded* mode: it
//! serves on its local limits (each node enforces the whole plan), reports
//! `atlantic_proxy_cluster_up 0`, and asks the shared state whether it is back once a second;
//! when it is, the node renews its leases and reports its bytes again, and goes back.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::account_state::{AccountState, ConnectionPermit, Leased};
use crate::catalog::Catalog;
use crate::directory::BoxError;
use crate::error::{ErrorCode, ProxyError};
use crate::shared::{BytesDelta, DynShared, SessionBinding};

/// The longest a call to the shared state may take before the node stops waiting and serves
/// on local limits.
pub(crate) const DEADLINE: Duration = Duration::from_millis(50);

/// How long requests taken from the cluster's bucket stay usable.
pub(crate) const LEASE_FRESH: Duration = Duration::from_millis(100);

/// The engine's handle on the shared state.
pub(crate) struct Cluster {
    shared: Arc<dyn DynShared>,
    up: AtomicBool,
    /// Calls that failed or were too slow, since start.
    fallbacks: AtomicU64,
    /// Gateways in the cluster, as the node registry last said (at least one).
    gateways: AtomicU32,
}

/// The connection slots a node leases at a time: 1 % of the cap, at least one.
fn batch(limit: u32) -> u32 {
    (limit / 100).max(1)
}

/// The requests a node takes from the bucket at a time: a tenth of the plan's rate shared
/// among `gateways`, at least one.
fn request_batch(per_second: u32, gateways: u32) -> u32 {
    (per_second / (10 * gateways.max(1))).max(1)
}

impl Cluster {
    pub(crate) fn new(shared: Arc<dyn DynShared>) -> Cluster {
        metrics::gauge!("atlantic_proxy_cluster_up").set(1.0);
        metrics::counter!("atlantic_proxy_cluster_fallbacks_total").absolute(0);
        Cluster {
            shared,
            up: AtomicBool::new(true),
            fallbacks: AtomicU64::new(0),
            gateways: AtomicU32::new(1),
        }
    }

    /// Whether the node works on cluster state now (not degraded).
    pub(crate) fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Tells the node how many gateways the cluster has now (it sizes request batches).
    pub(crate) fn set_gateways(&self, n: u32) {
        self.gateways.store(n.max(1), Ordering::Relaxed);
    }

    /// Calls that failed or were too slow, since start.
    pub(crate) fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Runs `call` under the deadline; `None` (and degraded mode) when it fails or is late,
    /// or at once while degraded.
    async fn call<T>(
        &self,
        what: &'static str,
        call: impl Future<Output = Result<T, BoxError>>,
    ) -> Option<T> {
        if !self.is_up() {
            return None;
        }
        let why = match tokio::time::timeout(DEADLINE, call).await {
            Ok(Ok(value)) => return Some(value),
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {} ms", DEADLINE.as_millis()),
        };
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("atlantic_proxy_cluster_fallbacks_total").increment(1);
        if self.up.swap(false, Ordering::AcqRel) {
            metrics::gauge!("atlantic_proxy_cluster_up").set(0.0);
            tracing::warn!(
                call = what,
                error = %why,
                "cluster state unavailable: serving on local limits until it is back"
            );
        }
        None
    }

    /// Takes one request from the account's bucket: from this node's batch, else a new batch
    /// from the cluster's bucket, else (degraded) from the account's local bucket.
    pub(crate) async fn check_rate(
        &self,
        state: &AccountState,
        per_second: u32,
    ) -> Result<(), ProxyError> {
        if state.use_leased_request(Instant::now()) {
            return Ok(());
        }
        // one batch call at a time per account: under load, every request arriving while a
        // call is out would otherwise make its own
        let _refilling = state.refilling.lock().await;
        let now = Instant::now();
        if state.use_leased_request(now) {
            return Ok(());
        }
        let want = request_batch(per_second, self.gateways.load(Ordering::Relaxed));
        let call = self.shared.take_requests(state.id, per_second, want);
        match self.call("take_requests", call).await {
            Some(grant) if grant.granted > 0 => {
                state.lease_requests(grant.granted - 1, now + LEASE_FRESH);
                Ok(())
            }
            Some(grant) => {
                let wait = grant.retry_after;
                let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
                Err(ProxyError::new(
                    ErrorCode::RateLimited,
                    "requests per second over the plan (across the cluster)",
                )
                .with_retry_after(secs))
            }
            None => state.check_rate(),
        }
    }

    /// Opens one of the account's connection slots: within this node's lease, else after
    /// leasing more from the cluster, else (degraded) within the local cap.
    pub(crate) async fn open_connection(
        &self,
        state: &Arc<AccountState>,
        cap: u32,
    ) -> Result<ConnectionPermit, ProxyError> {
        match state.open_leased_connection(cap) {
            Leased::Opened(permit) => return Ok(permit),
            Leased::Full(error) => return Err(error),
            Leased::NeedMore => {}
        }
        // one lease call at a time per account; a second round covers a slot taken by a
        // concurrent open after our lease
        let _leasing = state.leasing.lock().await;
        for _ in 0..2 {
            match state.open_leased_connection(cap) {
                Leased::Opened(permit) => return Ok(permit),
                Leased::Full(error) => return Err(error),
                Leased::NeedMore => {}
            }
            let more = batch(cap);
            let call = self.shared.lease_connections(state.id, cap, more);
            match self.call("lease_connections", call).await {
                Some(true) => {
                    state.slots_leased.fetch_add(more, Ordering::AcqRel);
                }
                Some(false) => {
                    return Err(ProxyError::new(
                        ErrorCode::RateLimited,
                        format!("more than {cap} concurrent connections across the cluster"),
                    )
                    .with_retry_after(1));
                }
                None => return state.open_connection(cap),
            }
        }
        state.open_connection(cap)
    }

    /// The cluster's binding of a session, if it has one and answers in time.
    pub(crate) async fn session(&self, account_id: i64, session: &str) -> Option<SessionBinding> {
        let call = self.shared.session(account_id, session);
        self.call("session", call).await.flatten()
    }

    /// Writes a binding this node made.
    pub(crate) async fn bind_session(
        &self,
        account_id: i64,
        session: &str,
        exit_id: i64,
        ttl: Duration,
    ) {
        let call = self.shared.bind_session(account_id, session, exit_id, ttl);
        self.call("bind_session", call).await;
    }

    /// Once a second (the gateway's tick): while degraded, checks whether the shared state is back;
    /// then trims and renews the connection leases, reports metered bytes and reads the
    /// period totals back into the account states.
    pub(crate) async fn sync(&self, states: &[Arc<AccountState>], catalog: &Catalog) {
        // set every second: a recorder installed after the gateway was built sees it too
        metrics::gauge!("atlantic_proxy_cluster_up").set(if self.is_up() { 1.0 } else { 0.0 });
        if !self.is_up() {
            let back = tokio::time::timeout(DEADLINE, self.shared.ping()).await;
            if !matches!(back, Ok(Ok(()))) {
                return;
            }
            tracing::info!("cluster state is back: renewing leases and reporting usage");
            self.up.store(true, Ordering::Release);
            metrics::gauge!("atlantic_proxy_cluster_up").set(1.0);
        }
        self.renew(states).await;
        self.report_bytes(states, catalog).await;
    }

    /// Sets every lease to the connections open now and renews it (0 gives it back).
    async fn renew(&self, states: &[Arc<AccountState>]) {
        let leases: Vec<(i64, u32)> = states
            .iter()
            .filter_map(|s| {
                let leased = s.slots_leased.load(Ordering::Acquire);
                let active = s.active();
                if leased == 0 && active == 0 {
                    return None;
                }
                // keep no spare slots: other nodes may need them
                s.slots_leased.store(active, Ordering::Release);
                Some((s.id, active))
            })
            .collect();
        if leases.is_empty() {
            return;
        }
        self.call("renew_connections", self.shared.renew_connections(leases))
            .await;
    }

    /// Adds what each account metered here since the last report to its period total, for
    /// accounts with connections open or bytes not reported, and keeps the totals.
    async fn report_bytes(&self, states: &[Arc<AccountState>], catalog: &Catalog) {
        let Some(accounts) = catalog.current() else {
            return;
        };
        let periods = accounts.periods();
        let mut reported = Vec::new();
        let mut deltas = Vec::new();
        for state in states {
            let metered = state.metered.load(Ordering::Relaxed);
            let bytes = metered.saturating_sub(state.reported.load(Ordering::Relaxed));
            if bytes == 0 && state.active() == 0 {
                continue;
            }
            let Some(&period_start_ms) = periods.get(&state.id) else {
                continue;
            };
            deltas.push(BytesDelta {
                account_id: state.id,
                period_start_ms,
                bytes,
            });
            reported.push((state.clone(), metered, period_start_ms));
        }
        if deltas.is_empty() {
            return;
        }
        let Some(totals) = self.call("add_bytes", self.shared.add_bytes(deltas)).await else {
            return;
        };
        for ((state, metered, period), total) in reported.iter().zip(totals) {
            state.reported.store(*metered, Ordering::Relaxed);
            state.set_cluster_bytes(*period, total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_small_and_at_least_one() {
        assert_eq!(batch(50), 1);
        assert_eq!(batch(1_000), 10);
        assert_eq!(batch(100_000), 1_000);
        // all gateways' batches together: at most a tenth of the plan's rate
        assert_eq!(request_batch(10, 1), 1);
        assert_eq!(request_batch(1_000_000, 1), 100_000);
        assert_eq!(request_batch(1_000_000, 50), 2_000);
        assert_eq!(request_batch(500, 10), 5);
        assert_eq!(
            request_batch(500, 0),
            50,
            "no registry figure yet counts as one"
        );
    }
}

#[cfg(test)]
mod batching {
    use std::sync::atomic::AtomicU32;

    use super::*;
    use crate::shared::{Grant, SharedState};

    /// A bucket that always has room and takes 2 ms to answer, counting the calls.
    #[derive(Default)]
    struct Counting {
        calls: AtomicU32,
    }

    impl SharedState for Arc<Counting> {
        async fn take_requests(&self, _: i64, _: u32, want: u32) -> Result<Grant, BoxError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(2)).await;
            Ok(Grant {
                granted: want,
                retry_after: Duration::ZERO,
            })
        }
        async fn lease_connections(&self, _: i64, _: u32, _: u32) -> Result<bool, BoxError> {
            Ok(true)
        }
        async fn renew_connections(&self, _: Vec<(i64, u32)>) -> Result<(), BoxError> {
            Ok(())
        }
        async fn add_bytes(&self, d: Vec<BytesDelta>) -> Result<Vec<u64>, BoxError> {
            Ok(vec![0; d.len()])
        }
        async fn session(&self, _: i64, _: &str) -> Result<Option<SessionBinding>, BoxError> {
            Ok(None)
        }
        async fn bind_session(&self, _: i64, _: &str, _: i64, _: Duration) -> Result<(), BoxError> {
            Ok(())
        }
        async fn ping(&self) -> Result<(), BoxError> {
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_share_one_batch_call() {
        let counting = Arc::new(Counting::default());
        let cluster = Arc::new(Cluster::new(Arc::new(counting.clone())));
        let state = Arc::new(AccountState::new(1));
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (cluster, state) = (cluster.clone(), state.clone());
                tokio::spawn(async move {
                    for _ in 0..50 {
                        cluster.check_rate(&state, 1_000_000).await.expect("room");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        assert_eq!(
            counting.calls.load(Ordering::SeqCst),
            1,
            "3,200 requests, one batch"
        );
    }

    #[tokio::test]
    async fn a_batch_serves_many_requests() {
        let counting = Arc::new(Counting::default());
        let cluster = Cluster::new(Arc::new(counting.clone()));
        let state = AccountState::new(1);
        for _ in 0..5_000 {
            cluster.check_rate(&state, 1_000_000).await.expect("room");
        }
        assert_eq!(
            counting.calls.load(Ordering::SeqCst),
            1,
            "one batch of 10,000"
        );
    }
}
