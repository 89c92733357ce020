//! The seam to state shared by every gateway node of a cluster: requests-per-second buckets,
//! connection-slot leases, period byte totals and sticky sessions. The `cluster` crate
//! implements [`SharedState`] over Redis; a gateway without one keeps all of it in its own
//! memory, as a single node always did.
//!
//! The gateway calls these on its hot path under a short deadline and falls back to its local
//! limits while a call fails or is slow (see `cluster.rs`), so an implementation needs no
//! retries and no timeouts of its own.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::directory::BoxError;

/// What a bucket gave: `granted` requests (possibly fewer than asked for), or none and how
/// long until the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// Requests taken from the bucket, at most the number asked for.
    pub granted: u32,
    /// With nothing granted: when the next request would be.
    pub retry_after: Duration,
}

/// Bytes this node metered for one account in one billing period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BytesDelta {
    /// The account.
    pub account_id: i64,
    /// The period's start, epoch milliseconds (totals are per period).
    pub period_start_ms: i64,
    /// Bytes (up + down) not reported before; 0 only reads the total.
    pub bytes: u64,
}

/// A sticky session as the cluster knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionBinding {
    /// The exit it is bound to.
    pub exit_id: i64,
    /// How long it lives on.
    pub ttl: Duration,
}

/// State shared by the gateway nodes of one cluster. Every method is one short round trip.
pub trait SharedState: Send + Sync + 'static {
    /// Takes up to `want` requests from the account's cluster-wide bucket, which refills at
    /// `per_second` and holds one second's worth.
    fn take_requests(
        &self,
        account_id: i64,
        per_second: u32,
        want: u32,
    ) -> impl Future<Output = Result<Grant, BoxError>> + Send;

    /// Raises this node's lease of the account's connection slots by `more` if every live
    /// node's leases together stay within `cap`; says whether it did.
    fn lease_connections(
        &self,
        account_id: i64,
        cap: u32,
        more: u32,
    ) -> impl Future<Output = Result<bool, BoxError>> + Send;

    /// Sets this node's leases to `leases` (account, slots; 0 gives the account's lease back)
    /// and renews them: a lease not renewed within the implementation's lease time lapses, so
    /// the slots of a node that died come free by themselves.
    fn renew_connections(
        &self,
        leases: Vec<(i64, u32)>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Adds this node's metered bytes to each account's period total and returns the cluster
    /// totals, in the order of `deltas`.
    fn add_bytes(
        &self,
        deltas: Vec<BytesDelta>,
    ) -> impl Future<Output = Result<Vec<u64>, BoxError>> + Send;

    /// The session's binding, if the cluster has one.
    fn session(
        &self,
        account_id: i64,
        session: &str,
    ) -> impl Future<Output = Result<Option<SessionBinding>, BoxError>> + Send;

    /// Binds the session to `exit_id`: a new binding lives `ttl`; an existing one moves to the
    /// exit and keeps its expiry.
    fn bind_session(
        &self,
        account_id: i64,
        session: &str,
        exit_id: i64,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Whether the shared state answers at all (how a degraded gateway notices it is back).
    fn ping(&self) -> impl Future<Output = Result<(), BoxError>> + Send;
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Object-safe form of [`SharedState`], so the engine is not generic.
pub(crate) trait DynShared: Send + Sync + 'static {
    fn take_requests(
        &self,
        account_id: i64,
        per_second: u32,
        want: u32,
    ) -> BoxFuture<'_, Result<Grant, BoxError>>;
    fn lease_connections(
        &self,
        account_id: i64,
        cap: u32,
        more: u32,
    ) -> BoxFuture<'_, Result<bool, BoxError>>;
    fn renew_connections(&self, leases: Vec<(i64, u32)>) -> BoxFuture<'_, Result<(), BoxError>>;
    fn add_bytes(&self, deltas: Vec<BytesDelta>) -> BoxFuture<'_, Result<Vec<u64>, BoxError>>;
    fn session<'a>(
        &'a self,
        account_id: i64,
        session: &'a str,
    ) -> BoxFuture<'a, Result<Option<SessionBinding>, BoxError>>;
    fn bind_session<'a>(
        &'a self,
        account_id: i64,
        session: &'a str,
        exit_id: i64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), BoxError>>;
    fn ping(&self) -> BoxFuture<'_, Result<(), BoxError>>;
}

impl<S: SharedState> DynShared for S {
    fn take_requests(
        &self,
        account_id: i64,
        per_second: u32,
        want: u32,
    ) -> BoxFuture<'_, Result<Grant, BoxError>> {
        Box::pin(SharedState::take_requests(
            self, account_id, per_second, want,
        ))
    }

    fn lease_connections(
        &self,
        account_id: i64,
        cap: u32,
        more: u32,
    ) -> BoxFuture<'_, Result<bool, BoxError>> {
        Box::pin(SharedState::lease_connections(self, account_id, cap, more))
    }

    fn renew_connections(&self, leases: Vec<(i64, u32)>) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(SharedState::renew_connections(self, leases))
    }

    fn add_bytes(&self, deltas: Vec<BytesDelta>) -> BoxFuture<'_, Result<Vec<u64>, BoxError>> {
        Box::pin(SharedState::add_bytes(self, deltas))
    }

    fn session<'a>(
        &'a self,
        account_id: i64,
        session: &'a str,
    ) -> BoxFuture<'a, Result<Option<SessionBinding>, BoxError>> {
        Box::pin(SharedState::session(self, account_id, session))
    }

    fn bind_session<'a>(
        &'a self,
        account_id: i64,
        session: &'a str,
        exit_id: i64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(SharedState::bind_session(
            self, account_id, session, exit_id, ttl,
        ))
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(SharedState::ping(self))
    }
}
