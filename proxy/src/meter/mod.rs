//! Usage metering: per (account, exit) atomic counters filled by the relays, drained into
//! [`UsageRecord`]s at every flush interval and written to the [`UsageSink`] in batches. Each
//! batch has an id it keeps until written (see [`outbox`]); a failed flush keeps its batches
//! and offers them again, oldest first, so nothing counted is lost while the process lives,
//! and a sink that stores batch ids counts nothing twice. A sink may also keep the drained
//! counts durably ([`UsageSink::keep`]) so that they survive the process.
//!
//! What is counted (exactly, per request):
//! - `bytes_up`: bytes the gateway sent toward the destination on the customer's behalf;
//!   `bytes_down`: bytes the gateway delivered to the customer.
//! - CONNECT and SOCKS5 tunnels: the tunnel payload only (not the CONNECT request, the
//!   `200 Connection established` line, or the SOCKS5 handshake).
//! - Forward HTTP: the request head as rewritten for the origin plus the request body as framed
//!   (chunk headers included), and the response head as relayed to the client plus its body.
//!   A `100 Continue` the gateway writes to the client counts as down.
//! - `requests`: every request that passed authentication (forward request, CONNECT, SOCKS5
//!   CONNECT); `errors` (a subset) those refused or failed after authentication, by code.
//!   Failures before a route was chosen are booked on exit 0 (the direct-egress row).
//! - Traffic under a sticky session (`-session-ID` in the username) is also labelled with the
//!   session id, for the Usage page's breakdown; at most [`MAX_SESSIONS_PER_ACCOUNT`] ids per
//!   account are labelled between two flushes, the rest are counted unlabelled (never lost).
//!
//! Reconciliation: a [`Ledger`] counts, per (account, hour), the bytes drained from the cells
//! (metered) and the bytes of batches the sink accepted (confirmed written). Their difference
//! is the drift: bytes metered but not (yet) in the store. It grows while flushes fail and is
//! back to exactly zero once a retried flush succeeds. It is kept apart from the pending batch
//! on purpose, so that a batch that lost or duplicated counts would show as drift.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::directory::BoxError;
use crate::error::ErrorCode;
use crate::locks::lock;

mod ledger;
mod outbox;

use ledger::Ledger;
pub use ledger::UsageDrift;
use outbox::Outbox;
pub use outbox::UsageBatch;

/// Usage of one account through one exit during one hour, as flushed to the sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRecord {
    /// The account.
    pub account_id: i64,
    /// The exit; 0 for direct egress (and failures before an exit was chosen).
    pub exit_id: i64,
    /// The exit's country, `""` when unknown.
    pub country: String,
    /// Start of the hour (epoch ms) the counts were drained in.
    pub hour_start_ms: i64,
    /// Bytes sent toward destinations.
    pub bytes_up: u64,
    /// Bytes delivered to the customer.
    pub bytes_down: u64,
    /// Requests that passed authentication.
    pub requests: u64,
    /// Of those, the ones refused or failed.
    pub errors: u64,
    /// Errors by code (only non-zero entries).
    pub errors_by_code: Vec<(ErrorCode, u64)>,
    /// The sticky-session id the traffic ran under, `""` for none (or past the label cap).
    pub session: String,
}

/// Most sticky-session ids labelled per account between two flushes. Customers who start a
/// session per request would otherwise grow the meter (and the session table) without bound.
pub const MAX_SESSIONS_PER_ACCOUNT: u32 = 64;

/// What a cell counts for: (account, exit, sticky session).
type CellKey = (i64, i64, Option<Arc<str>>);

/// Live totals of one scope (the gateway, or one account), never reset; read by the
/// statistics sampler. Usage records come from the [`Cell`]s, not from these.
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    pub(crate) up: AtomicU64,
    pub(crate) down: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) errors: AtomicU64,
}

/// A reading of a [`Traffic`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Totals {
    pub(crate) up: u64,
    pub(crate) down: u64,
    pub(crate) requests: u64,
    pub(crate) errors: u64,
}

impl Traffic {
    pub(crate) fn totals(&self) -> Totals {
        Totals {
            up: self.up.load(Ordering::Relaxed),
            down: self.down.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }
}

/// Receives usage batches; implemented by the embedding service over its database.
///
/// A batch keeps its id across retries. The sink should store the id in the same
/// transaction as the counts and skip a batch whose id it stored before: a flush whose
/// commit succeeded but whose answer was lost (a connection cut at the wrong moment, a
/// timeout) is then retried without counting anything twice.
pub trait UsageSink: Send + Sync + 'static {
    /// Stores a batch. An error makes the gateway keep the batch and retry it later.
    fn flush(&self, batch: UsageBatch) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Called with counts as soon as they are drained (at every flush interval), before any
    /// attempt to store them, with the id of the batch they will be sent in (counts drained
    /// while older batches wait are added to the newest batch not yet offered, so one id may
    /// receive several calls). A sink that keeps them durably (an append-only spool) makes
    /// them survive a crash of the process. By default nothing is kept.
    fn keep(&self, batch_id: &str, records: &[UsageRecord]) -> impl Future<Output = ()> + Send {
        let _ = (batch_id, records);
        async {}
    }

    /// Called once a batch was stored, after [`UsageSink::flush`] succeeded.
    fn written(&self, batch_id: &str) -> impl Future<Output = ()> + Send {
        let _ = batch_id;
        async {}
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Object-safe form of [`UsageSink`].
pub(crate) trait DynSink: Send + Sync + 'static {
    fn send(&self, batch: UsageBatch) -> BoxFuture<'_, Result<(), BoxError>>;
    fn keep<'a>(&'a self, batch_id: &'a str, records: &'a [UsageRecord]) -> BoxFuture<'a, ()>;
    fn written<'a>(&'a self, batch_id: &'a str) -> BoxFuture<'a, ()>;
}

impl<U: UsageSink> DynSink for U {
    fn send(&self, batch: UsageBatch) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(self.flush(batch))
    }

    fn keep<'a>(&'a self, batch_id: &'a str, records: &'a [UsageRecord]) -> BoxFuture<'a, ()> {
        Box::pin(UsageSink::keep(self, batch_id, records))
    }

    fn written<'a>(&'a self, batch_id: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(UsageSink::written(self, batch_id))
    }
}

/// What one flush wrote, and why it stopped early if it did.
#[derive(Debug, Default)]
pub(crate) struct Flushed {
    /// Records of the batches the sink confirmed, oldest first.
    pub(crate) written: Vec<UsageRecord>,
    /// The sink's error; the batch it refused (and any after it) wait for the next flush.
    pub(crate) error: Option<BoxError>,
}

/// Live counters of one (account, exit).
#[derive(Debug, Default)]
pub(crate) struct Cell {
    country: String,
    up: AtomicU64,
    down: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
    by_code: [AtomicU64; ErrorCode::ALL.len()],
}

impl Cell {
    pub(crate) fn add_up(&self, n: u64) {
        self.up.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_down(&self, n: u64) {
        self.down.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_error(&self, code: ErrorCode) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.by_code[code.index()].fetch_add(1, Ordering::Relaxed);
    }

    fn drain(&self, key: &CellKey, hour_start_ms: i64) -> Option<UsageRecord> {
        let (account_id, exit_id, session) = key;
        let take = |a: &AtomicU64| a.swap(0, Ordering::Relaxed);
        let errors_by_code: Vec<(ErrorCode, u64)> = ErrorCode::ALL
            .into_iter()
            .map(|c| (c, take(&self.by_code[c.index()])))
            .filter(|(_, n)| *n > 0)
            .collect();
        let r = UsageRecord {
            account_id: *account_id,
            exit_id: *exit_id,
            session: session.as_deref().unwrap_or_default().to_owned(),
            country: self.country.clone(),
            hour_start_ms,
            bytes_up: take(&self.up),
            bytes_down: take(&self.down),
            requests: take(&self.requests),
            errors: take(&self.errors),
            errors_by_code,
        };
        let empty = r.bytes_up == 0 && r.bytes_down == 0 && r.requests == 0 && r.errors == 0;
        (!empty).then_some(r)
    }
}

/// All cells, the batches waiting to be written, and the reconciliation ledger.
#[derive(Debug, Default)]
pub(crate) struct Meter {
    cells: Mutex<Cells>,
    outbox: Mutex<Outbox>,
    ledger: Mutex<Ledger>,
    sending: tokio::sync::Mutex<()>,
}

/// The live cells, and how many session-labelled ones each account has.
#[derive(Debug, Default)]
struct Cells {
    by_key: HashMap<CellKey, Arc<Cell>>,
    sessions: HashMap<i64, u32>,
}

/// Start of the current hour in epoch milliseconds.
pub(crate) fn hour_start_ms(now: SystemTime) -> i64 {
    let ms = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    ms - ms.rem_euclid(3_600_000)
}

pub(crate) fn merge(into: &mut Vec<UsageRecord>, more: Vec<UsageRecord>) {
    for r in more {
        match into.iter_mut().find(|x| {
            (x.account_id, x.exit_id, x.hour_start_ms) == (r.account_id, r.exit_id, r.hour_start_ms)
                && x.country == r.country
                && x.session == r.session
        }) {
            None => into.push(r),
            Some(x) => {
                x.bytes_up += r.bytes_up;
                x.bytes_down += r.bytes_down;
                x.requests += r.requests;
                x.errors += r.errors;
                for (code, n) in r.errors_by_code {
                    match x.errors_by_code.iter_mut().find(|(c, _)| *c == code) {
                        Some((_, m)) => *m += n,
                        None => x.errors_by_code.push((code, n)),
                    }
                }
                x.errors_by_code.sort();
            }
        }
    }
}

impl Meter {
    /// The cell of (account, exit, session), created with `country` on first use. A session
    /// past the account's label cap gets the unlabelled cell.
    pub(crate) fn cell(
        &self,
        account_id: i64,
        exit_id: i64,
        country: &str,
        session: Option<&str>,
    ) -> Arc<Cell> {
        let mut cells = lock(&self.cells);
        let Cells { by_key, sessions } = &mut *cells;
        let mut key: CellKey = (account_id, exit_id, session.map(Arc::from));
        if key.2.is_some() && !by_key.contains_key(&key) {
            let labelled = sessions.entry(account_id).or_default();
            if *labelled >= MAX_SESSIONS_PER_ACCOUNT {
                key.2 = None;
            } else {
                *labelled += 1;
            }
        }
        by_key
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Cell {
                    country: country.to_owned(),
                    ..Cell::default()
                })
            })
            .clone()
    }

    /// Takes every non-zero count, stamped with `hour_start_ms`; cells nobody holds are dropped
    /// (and with them their session labels, which frees room under the cap).
    pub(crate) fn drain(&self, hour_start_ms: i64) -> Vec<UsageRecord> {
        let mut cells = lock(&self.cells);
        let Cells { by_key, sessions } = &mut *cells;
        let out = by_key
            .iter()
            .filter_map(|(key, c)| c.drain(key, hour_start_ms))
            .collect();
        by_key.retain(|_, c| Arc::strong_count(c) > 1);
        sessions.clear();
        for (account, _, session) in by_key.keys() {
            if session.is_some() {
                *sessions.entry(*account).or_default() += 1;
            }
        }
        out
    }

    /// [`Meter::collect`], then [`Meter::send`].
    #[cfg(test)]
    pub(crate) async fn flush(&self, sink: &dyn DynSink, timeout: Duration) -> Flushed {
        self.collect(sink).await;
        self.send(sink, timeout).await
    }

    /// Drains the cells into the outbox and hands the counts to [`UsageSink::keep`]. Quick
    /// (memory, and the sink's spool): the gateway runs it every flush interval even while a
    /// [`Meter::send`] waits on a slow or absent store, so a crash then loses at most one
    /// interval of counts.
    pub(crate) async fn collect(&self, sink: &dyn DynSink) {
        let now = SystemTime::now();
        let fresh = self.drain(hour_start_ms(now));
        {
            let mut ledger = lock(&self.ledger);
            ledger.metered(&fresh);
            ledger.drained_at_ms = Some(
                now.duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64),
            );
        }
        if fresh.is_empty() {
            return;
        }
        let kept = fresh.clone();
        let id = lock(&self.outbox).add(fresh);
        if let Some(id) = id {
            sink.keep(&id, &kept).await;
        }
    }

    /// Offers the waiting batches to the sink, oldest first, until one fails. One send runs
    /// at a time: a batch is never offered twice at once.
    pub(crate) async fn send(&self, sink: &dyn DynSink, timeout: Duration) -> Flushed {
        let _one_at_a_time = self.sending.lock().await;
        let mut flushed = Flushed::default();
        loop {
            let first = lock(&self.outbox).offer_first();
            let Some(batch) = first else {
                return flushed;
            };
            let id = batch.id.clone();
            let records = batch.records.clone();
            let result = match tokio::time::timeout(timeout, sink.send(batch)).await {
                Ok(r) => r,
                Err(_) => Err("usage flush timed out".into()),
            };
            if let Err(e) = result {
                flushed.error = Some(e);
                return flushed;
            }
            lock(&self.ledger).written(&records);
            lock(&self.outbox).confirm(&id);
            sink.written(&id).await;
            flushed.written.extend(records);
        }
    }

    /// Bytes metered (drained) and not yet confirmed written by the sink, per account and hour.
    pub(crate) fn drift(&self) -> UsageDrift {
        lock(&self.ledger).drift()
    }

    /// Number of records waiting to be written.
    pub(crate) fn pending_len(&self) -> usize {
        lock(&self.outbox).records()
    }

    /// Number of batches waiting to be written.
    pub(crate) fn pending_batches(&self) -> usize {
        lock(&self.outbox).batches()
    }
}

#[cfg(test)]
mod tests;
