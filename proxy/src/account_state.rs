//! The run-time state of each account, in one place and kept across directory snapshots: its
//! requests-per-second bucket, its open connections (and their cap), the bandwidth quota — the
//! bytes already in the database plus what this process metered and has not seen reflected
//! there —, the sticky sessions it keeps pinned, its live traffic totals, and the token that
//! cuts its running connections. [`AccountStates`] is the registry, one state per account id.
//!
//! In a cluster it also holds this node's share of the shared limits: requests taken from the
//! cluster's bucket and not used yet, the connection slots leased, and the cluster's byte total
//! for the period as last seen (see `cluster.rs`).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio_util::sync::CancellationToken;

use crate::directory::PlanLimits;
use crate::error::{ErrorCode, ProxyError};
use crate::locks::{lock, read, write};
use crate::meter::{Traffic, UsageRecord};

/// Run-time state of one account, kept across directory snapshots.
#[derive(Debug)]
pub(crate) struct AccountState {
    pub(crate) id: i64,
    limiter: RwLock<Option<(u32, Arc<DefaultDirectRateLimiter>)>>,
    active: AtomicU32,
    /// Sticky sessions pinned in the exits' session table (kept in step by that table).
    sessions: AtomicUsize,
    /// Bytes (up + down) metered by this process for the account, never reset.
    pub(crate) metered: AtomicU64,
    /// Of `metered`, the bytes a flush has confirmed.
    pub(crate) flushed: AtomicU64,
    cut: Mutex<CancellationToken>,
    /// Totals for live statistics.
    pub(crate) traffic: Traffic,
    /// Requests taken from the cluster's bucket and not used yet, usable until they expire.
    requests_leased: Mutex<(u32, Option<Instant>)>,
    /// Held while a batch is being taken from the cluster's bucket, so the requests that find
    /// the batch used up wait for that one call instead of each making their own.
    pub(crate) refilling: tokio::sync::Mutex<()>,
    /// The same for leasing connection slots.
    pub(crate) leasing: tokio::sync::Mutex<()>,
    /// Connection slots this node leases from the cluster.
    pub(crate) slots_leased: AtomicU32,
    /// Of `metered`, the bytes added to the cluster's total.
    pub(crate) reported: AtomicU64,
    /// The cluster's byte total for the period starting at `cluster_period` (epoch ms), as
    /// last seen.
    cluster_bytes: AtomicU64,
    cluster_period: AtomicI64,
}

impl AccountState {
    pub(crate) fn new(id: i64) -> Self {
        Self {
            id,
            limiter: RwLock::new(None),
            active: AtomicU32::new(0),
            sessions: AtomicUsize::new(0),
            metered: AtomicU64::new(0),
            flushed: AtomicU64::new(0),
            cut: Mutex::new(CancellationToken::new()),
            traffic: Traffic::default(),
            requests_leased: Mutex::new((0, None)),
            refilling: tokio::sync::Mutex::new(()),
            leasing: tokio::sync::Mutex::new(()),
            slots_leased: AtomicU32::new(0),
            reported: AtomicU64::new(0),
            cluster_bytes: AtomicU64::new(0),
            cluster_period: AtomicI64::new(i64::MIN),
        }
    }

    /// Uses one request of those taken from the cluster's bucket, if one is left and fresh.
    pub(crate) fn use_leased_request(&self, now: Instant) -> bool {
        let mut leased = lock(&self.requests_leased);
        match *leased {
            (n, Some(expires)) if n > 0 && now < expires => {
                leased.0 = n - 1;
                true
            }
            _ => false,
        }
    }

    /// Keeps `n` requests taken from the cluster's bucket for use until `expires`.
    pub(crate) fn lease_requests(&self, n: u32, expires: Instant) {
        *lock(&self.requests_leased) = (n, Some(expires));
    }

    /// Records the cluster's byte total for the period starting at `period_start_ms`.
    pub(crate) fn set_cluster_bytes(&self, period_start_ms: i64, total: u64) {
        self.cluster_bytes.store(total, Ordering::Relaxed);
        self.cluster_period
            .store(period_start_ms, Ordering::Relaxed);
    }

    /// Sets the requests-per-second budget (keeps the bucket when unchanged).
    pub(crate) fn set_rate(&self, rps: u32) {
        let mut slot = write(&self.limiter);
        if slot.as_ref().is_some_and(|(r, _)| *r == rps) {
            return;
        }
        let per_second = NonZeroU32::new(rps).unwrap_or(NonZeroU32::MIN);
        *slot = Some((
            rps,
            Arc::new(RateLimiter::direct(Quota::per_second(per_second))),
        ));
    }

    /// Takes one request from the bucket, or says when to come back.
    pub(crate) fn check_rate(&self) -> Result<(), ProxyError> {
        let limiter = read(&self.limiter).as_ref().map(|(_, l)| l.clone());
        let Some(limiter) = limiter else {
            return Ok(());
        };
        limiter.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ProxyError::new(ErrorCode::RateLimited, "requests per second over the plan")
                .with_retry_after(secs)
        })
    }

    /// Opens one connection slot, if under `cap`.
    pub(crate) fn open_connection(
        self: &Arc<Self>,
        cap: u32,
    ) -> Result<ConnectionPermit, ProxyError> {
        let mut current = self.active.load(Ordering::Relaxed);
        loop {
            if current >= cap {
                return Err(ProxyError::new(
                    ErrorCode::RateLimited,
                    format!("more than {cap} concurrent connections"),
                )
                .with_retry_after(1));
            }
            match self.active.compare_exchange_weak(
                current,
                current + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Ok(ConnectionPermit {
                        account: self.clone(),
                    });
                }
                Err(seen) => current = seen,
            }
        }
    }

    /// Opens one connection slot within this node's lease of the cluster's slots and `cap`.
    pub(crate) fn open_leased_connection(self: &Arc<Self>, cap: u32) -> Leased {
        let leased = self.slots_leased.load(Ordering::Acquire);
        match self.open_connection(cap.min(leased)) {
            Ok(permit) => Leased::Opened(permit),
            Err(_) if leased < cap => Leased::NeedMore,
            Err(error) => Leased::Full(error),
        }
    }

    /// Connections open right now.
    pub(crate) fn active(&self) -> u32 {
        self.active.load(Ordering::Relaxed)
    }

    /// Adds metered bytes.
    pub(crate) fn add_bytes(&self, n: u64) {
        self.metered.fetch_add(n, Ordering::Relaxed);
    }

    /// Token cancelled when the account's running connections must stop (quota used up).
    pub(crate) fn cut_token(&self) -> CancellationToken {
        lock(&self.cut).clone()
    }

    /// Stops every running connection of the account; later connections get a fresh token.
    pub(crate) fn cut_all(&self) {
        let mut token = lock(&self.cut);
        token.cancel();
        *token = CancellationToken::new();
    }

    /// Checks the bandwidth quota of `plan` (and that there is a plan at all); `baseline` is
    /// `flushed` just before the plan's snapshot was loaded.
    pub(crate) fn check_quota(
        &self,
        plan: Option<&PlanLimits>,
        baseline: u64,
    ) -> Result<(), ProxyError> {
        let Some(plan) = plan else {
            return Err(ProxyError::new(ErrorCode::QuotaExceeded, "no active plan"));
        };
        match plan.bandwidth_bytes {
            Some(limit) if self.used_bytes(plan, baseline) >= limit => Err(ProxyError::new(
                ErrorCode::QuotaExceeded,
                "plan bandwidth used up for this period",
            )),
            _ => Ok(()),
        }
    }

    /// Sticky sessions pinned now.
    pub(crate) fn sessions(&self) -> usize {
        self.sessions.load(Ordering::Relaxed)
    }

    /// One more pinned session (the session table calls this under its lock).
    pub(crate) fn session_pinned(&self) {
        self.sessions.fetch_add(1, Ordering::Relaxed);
    }

    /// One pinned session fewer (expired or dropped from the session table).
    pub(crate) fn session_unpinned(&self) {
        self.sessions.fetch_sub(1, Ordering::Relaxed);
    }

    /// Whether anything still refers to the state once its account left the directory:
    /// open connections, pinned sessions, or metered bytes not flushed yet.
    fn in_use(&self) -> bool {
        self.active() > 0
            || self.sessions() > 0
            || self.metered.load(Ordering::Relaxed) > self.flushed.load(Ordering::Relaxed)
    }

    /// Bytes used this period as best known: the database's figure plus what was metered here
    /// since the snapshot was taken (`baseline` = `flushed` just before the load).
    /// In a cluster, the cluster's total for the period (plus what this node metered since
    /// it last reported) when that is higher: it includes the other nodes' unflushed bytes.
    pub(crate) fn used_bytes(&self, plan: &PlanLimits, baseline: u64) -> u64 {
        let metered = self.metered.load(Ordering::Relaxed);
        let local = plan
            .bytes_used
            .saturating_add(metered.saturating_sub(baseline));
        if self.cluster_period.load(Ordering::Relaxed) != plan.period_start_ms {
            return local;
        }
        let unreported = metered.saturating_sub(self.reported.load(Ordering::Relaxed));
        let cluster = self
            .cluster_bytes
            .load(Ordering::Relaxed)
            .saturating_add(unreported);
        local.max(cluster)
    }
}

/// What opening a connection within the node's lease came to.
#[derive(Debug)]
pub(crate) enum Leased {
    Opened(ConnectionPermit),
    /// The lease is used up, and the cap allows more: lease more from the cluster.
    NeedMore,
    /// The cap itself is reached.
    Full(ProxyError),
}

/// One open connection of an account; the slot is released on drop.
#[derive(Debug)]
pub(crate) struct ConnectionPermit {
    account: Arc<AccountState>,
}

impl ConnectionPermit {
    pub(crate) fn account_id(&self) -> i64 {
        self.account.id
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.account.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Every account's state, by account id.
#[derive(Debug, Default)]
pub(crate) struct AccountStates {
    by_id: Mutex<HashMap<i64, Arc<AccountState>>>,
}

impl AccountStates {
    /// `flushed` of every known account; taken just before a snapshot load.
    pub(crate) fn baselines(&self) -> HashMap<i64, u64> {
        lock(&self.by_id)
            .iter()
            .map(|(id, s)| (*id, s.flushed.load(Ordering::Relaxed)))
            .collect()
    }

    /// The states of a snapshot's accounts (created for new ones), in the order of `ids`;
    /// states of accounts no longer in it are forgotten once nothing refers to them.
    pub(crate) fn for_snapshot(&self, ids: &[i64]) -> Vec<Arc<AccountState>> {
        let mut by_id = lock(&self.by_id);
        let states: Vec<Arc<AccountState>> = ids
            .iter()
            .map(|id| {
                by_id
                    .entry(*id)
                    .or_insert_with(|| Arc::new(AccountState::new(*id)))
                    .clone()
            })
            .collect();
        let live: std::collections::HashSet<i64> = ids.iter().copied().collect();
        by_id.retain(|id, s| live.contains(id) || s.in_use());
        states
    }

    /// Credits a successfully flushed batch to its accounts.
    pub(crate) fn credit_flushed(&self, batch: &[UsageRecord]) {
        let by_id = lock(&self.by_id);
        for r in batch {
            if let Some(s) = by_id.get(&r.account_id) {
                s.flushed
                    .fetch_add(r.bytes_up + r.bytes_down, Ordering::Relaxed);
            }
        }
    }

    /// Every account state.
    pub(crate) fn all(&self) -> Vec<Arc<AccountState>> {
        lock(&self.by_id).values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(limit: Option<u64>, used: u64) -> PlanLimits {
        PlanLimits {
            requests_per_second: 10,
            max_connections: 2,
            bandwidth_bytes: limit,
            bytes_used: used,
            period_start_ms: 0,
        }
    }

    #[test]
    fn rate_limit_allows_the_burst_then_says_when() {
        let s = AccountState::new(1);
        s.set_rate(3);
        for _ in 0..3 {
            s.check_rate().expect("within burst");
        }
        let err = s.check_rate().expect_err("over");
        assert_eq!(err.code, ErrorCode::RateLimited);
        assert_eq!(err.retry_after, Some(1));
    }

    #[test]
    fn connection_cap_is_released_on_drop() {
        let s = Arc::new(AccountState::new(1));
        let a = s.open_connection(2).expect("1");
        let _b = s.open_connection(2).expect("2");
        assert!(s.open_connection(2).is_err());
        drop(a);
        assert!(s.open_connection(2).is_ok());
    }

    #[test]
    fn quota_counts_unflushed_local_bytes() {
        let s = AccountState::new(1);
        assert!(s.check_quota(None, 0).is_err());
        assert!(s.check_quota(Some(&plan(None, u64::MAX)), 0).is_ok());
        let p = plan(Some(1000), 900);
        assert!(s.check_quota(Some(&p), 0).is_ok());
        s.add_bytes(150);
        assert_eq!(
            s.check_quota(Some(&p), 0).map_err(|e| e.code),
            Err(ErrorCode::QuotaExceeded)
        );
        // the snapshot was taken after those 150 bytes were flushed: counted once, via bytes_used
        assert!(s.check_quota(Some(&plan(Some(1000), 900)), 150).is_ok());
    }

    #[test]
    fn the_cluster_total_counts_when_it_is_higher_and_of_the_same_period() {
        let s = AccountState::new(1);
        let p = plan(Some(1000), 100);
        s.add_bytes(50);
        assert_eq!(s.used_bytes(&p, 0), 150, "no cluster figure yet");
        // the other nodes metered 800 more; this node reported its 50
        s.reported.store(50, Ordering::Relaxed);
        s.set_cluster_bytes(0, 950);
        assert_eq!(s.used_bytes(&p, 0), 950);
        s.add_bytes(60);
        assert_eq!(s.used_bytes(&p, 0), 1010, "plus what is not reported yet");
        assert!(s.check_quota(Some(&p), 0).is_err());
        // a figure of another period does not count
        s.set_cluster_bytes(-1, 5_000);
        assert_eq!(s.used_bytes(&p, 0), 210);
    }

    #[test]
    fn leased_requests_are_used_once_and_expire() {
        let s = AccountState::new(1);
        let now = Instant::now();
        assert!(!s.use_leased_request(now));
        s.lease_requests(2, now + std::time::Duration::from_millis(100));
        assert!(s.use_leased_request(now));
        assert!(s.use_leased_request(now));
        assert!(!s.use_leased_request(now));
        s.lease_requests(5, now + std::time::Duration::from_millis(100));
        assert!(!s.use_leased_request(now + std::time::Duration::from_millis(100)));
    }

    #[test]
    fn leased_connections_stay_within_the_lease() {
        let s = Arc::new(AccountState::new(1));
        assert!(matches!(s.open_leased_connection(5), Leased::NeedMore));
        s.slots_leased.store(1, Ordering::Release);
        let Leased::Opened(first) = s.open_leased_connection(5) else {
            panic!("the leased slot opens");
        };
        assert!(matches!(s.open_leased_connection(5), Leased::NeedMore));
        drop(first);
        assert!(matches!(s.open_leased_connection(5), Leased::Opened(_)));
        s.slots_leased.store(5, Ordering::Release);
        let _held: Vec<ConnectionPermit> = (0..5)
            .map(|_| match s.open_leased_connection(5) {
                Leased::Opened(p) => p,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(matches!(s.open_leased_connection(5), Leased::Full(_)));
    }
}
