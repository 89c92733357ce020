//! Usage metering: per (account, exit) atomic counters filled by the relays, drained into
//! [`UsageRecord`]s and flushed to the [`UsageSink`] in batches. A failed flush keeps its batch
//! and sends it again with the next one, so nothing counted is lost while the process lives.
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
pub trait UsageSink: Send + Sync + 'static {
    /// Stores a batch. An error makes the gateway keep the batch and retry it later.
    fn flush(&self, batch: Vec<UsageRecord>) -> impl Future<Output = Result<(), BoxError>> + Send;
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Object-safe form of [`UsageSink`].
pub(crate) trait DynSink: Send + Sync + 'static {
    fn send(&self, batch: Vec<UsageRecord>) -> BoxFuture<'_, Result<(), BoxError>>;
}

impl<U: UsageSink> DynSink for U {
    fn send(&self, batch: Vec<UsageRecord>) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(self.flush(batch))
    }
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

/// All cells, the batch waiting to be flushed again, and the reconciliation ledger.
#[derive(Debug, Default)]
pub(crate) struct Meter {
    cells: Mutex<Cells>,
    pending: Mutex<Vec<UsageRecord>>,
    ledger: Mutex<Ledger>,
}

/// Bytes (up + down) metered and confirmed written, per (account, hour start ms). Entries
/// whose two sides are equal are dropped, so it holds no more than the accounts and hours
/// with drift.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    by_bucket: HashMap<(i64, i64), (u64, u64)>,
    /// When counts were last drained for a flush (epoch ms): whatever was metered before is
    /// in `by_bucket`, written or drift.
    drained_at_ms: Option<i64>,
}

/// Drift of the metered usage against what the sink confirmed written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageDrift {
    /// Bytes metered and not yet confirmed written, over all accounts.
    pub bytes: u64,
    /// Accounts with drift.
    pub accounts: usize,
    /// (account, hour start ms, bytes) of each bucket with drift, in key order.
    pub buckets: Vec<(i64, i64, u64)>,
    /// When counts were last drained for a flush (epoch ms); `None` before the first flush.
    /// Everything metered before it is either written or in `buckets`.
    pub drained_at_ms: Option<i64>,
}

fn record_bytes(r: &UsageRecord) -> u64 {
    r.bytes_up + r.bytes_down
}

impl Ledger {
    fn metered(&mut self, records: &[UsageRecord]) {
        for r in records {
            let e = self
                .by_bucket
                .entry((r.account_id, r.hour_start_ms))
                .or_default();
            e.0 += record_bytes(r);
        }
        self.prune();
    }

    fn written(&mut self, records: &[UsageRecord]) {
        for r in records {
            let e = self
                .by_bucket
                .entry((r.account_id, r.hour_start_ms))
                .or_default();
            e.1 += record_bytes(r);
        }
        self.prune();
    }

    fn prune(&mut self) {
        self.by_bucket.retain(|_, (m, w)| m != w);
    }

    fn drift(&self) -> UsageDrift {
        let mut buckets: Vec<(i64, i64, u64)> = self
            .by_bucket
            .iter()
            .map(|(&(a, h), &(m, w))| (a, h, m.saturating_sub(w)))
            .filter(|(_, _, d)| *d > 0)
            .collect();
        buckets.sort_unstable();
        let mut accounts: Vec<i64> = buckets.iter().map(|b| b.0).collect();
        accounts.dedup();
        UsageDrift {
            bytes: buckets.iter().map(|b| b.2).sum(),
            accounts: accounts.len(),
            buckets,
            drained_at_ms: self.drained_at_ms,
        }
    }
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

fn merge(into: &mut Vec<UsageRecord>, more: Vec<UsageRecord>) {
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

    /// Flushes pending and newly drained counts. On success returns the batch sent; on failure
    /// the batch is kept for the next call.
    pub(crate) async fn flush(
        &self,
        sink: &dyn DynSink,
        timeout: Duration,
    ) -> Result<Vec<UsageRecord>, BoxError> {
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
        let mut batch = std::mem::take(&mut *lock(&self.pending));
        merge(&mut batch, fresh);
        if batch.is_empty() {
            return Ok(batch);
        }
        let result = match tokio::time::timeout(timeout, sink.send(batch.clone())).await {
            Ok(r) => r,
            Err(_) => Err("usage flush timed out".into()),
        };
        match result {
            Ok(()) => {
                lock(&self.ledger).written(&batch);
                Ok(batch)
            }
            Err(e) => {
                let mut pending = lock(&self.pending);
                let newer = std::mem::take(&mut *pending);
                *pending = batch;
                merge(&mut pending, newer);
                Err(e)
            }
        }
    }

    /// Bytes metered (drained) and not yet confirmed written by the sink, per account and hour.
    pub(crate) fn drift(&self) -> UsageDrift {
        lock(&self.ledger).drift()
    }

    /// Number of records waiting for a retry.
    pub(crate) fn pending_len(&self) -> usize {
        lock(&self.pending).len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;

    #[derive(Default)]
    struct Sink {
        fail: AtomicBool,
        got: Mutex<Vec<UsageRecord>>,
    }

    impl UsageSink for Sink {
        async fn flush(&self, batch: Vec<UsageRecord>) -> Result<(), BoxError> {
            if self.fail.load(Ordering::SeqCst) {
                return Err("database down".into());
            }
            self.got.lock().expect("lock").extend(batch);
            Ok(())
        }
    }

    #[tokio::test]
    async fn failed_flush_keeps_counts_for_the_next_one() {
        let meter = Meter::default();
        let sink = Sink::default();
        let cell = meter.cell(7, 0, "", None);
        cell.add_up(100);
        cell.add_request();
        sink.fail.store(true, Ordering::SeqCst);
        assert!(meter.flush(&sink, Duration::from_secs(1)).await.is_err());
        assert_eq!(meter.pending_len(), 1);
        cell.add_up(5);
        cell.add_down(10);
        cell.add_error(ErrorCode::UpstreamFailed);
        sink.fail.store(false, Ordering::SeqCst);
        let sent = meter
            .flush(&sink, Duration::from_secs(1))
            .await
            .expect("flush");
        assert_eq!(sent.len(), 1);
        let got = sink.got.lock().expect("lock").clone();
        assert_eq!(got.len(), 1);
        let r = &got[0];
        assert_eq!(
            (r.bytes_up, r.bytes_down, r.requests, r.errors),
            (105, 10, 1, 1)
        );
        assert_eq!(r.errors_by_code, vec![(ErrorCode::UpstreamFailed, 1)]);
        assert_eq!(meter.pending_len(), 0);
        assert!(
            meter
                .flush(&sink, Duration::from_secs(1))
                .await
                .expect("empty")
                .is_empty()
        );
    }

    #[tokio::test]
    async fn drift_grows_while_flushes_fail_and_is_exactly_zero_after_the_retry() {
        let meter = Meter::default();
        let sink = Sink::default();
        let flush = || meter.flush(&sink, Duration::from_secs(1));
        assert_eq!(meter.drift(), UsageDrift::default());
        sink.fail.store(true, Ordering::SeqCst);
        let a = meter.cell(1, 0, "", None);
        let b = meter.cell(2, 5, "de", Some("s"));
        a.add_up(100);
        b.add_down(7);
        assert!(flush().await.is_err());
        let d = meter.drift();
        assert_eq!((d.bytes, d.accounts), (107, 2));
        a.add_down(3);
        assert!(flush().await.is_err());
        assert!(flush().await.is_err());
        let d = meter.drift();
        assert_eq!((d.bytes, d.accounts), (110, 2));
        let hour = d.buckets[0].1;
        assert_eq!(d.buckets, vec![(1, hour, 103), (2, hour, 7)]);
        sink.fail.store(false, Ordering::SeqCst);
        flush().await.expect("flush");
        let d = meter.drift();
        assert_eq!((d.bytes, d.accounts, d.buckets.len()), (0, 0, 0));
        assert!(d.drained_at_ms.is_some(), "the drain is stamped");
        let got = sink.got.lock().expect("lock").clone();
        let written: u64 = got.iter().map(record_bytes).sum();
        assert_eq!(written, 110, "written once, not once per attempt");
        // More traffic after recovery: written as usual, no drift left over.
        b.add_up(1);
        flush().await.expect("flush");
        assert_eq!(meter.drift().bytes, 0);
    }

    #[test]
    fn unused_cells_are_dropped_after_a_drain() {
        let meter = Meter::default();
        meter.cell(1, 2, "de", None).add_down(3);
        let held = meter.cell(1, 3, "fr", None);
        let out = meter.drain(0);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].country, "de");
        assert_eq!(lock(&meter.cells).by_key.len(), 1);
        drop(held);
    }

    #[test]
    fn sessions_are_labelled_up_to_the_cap_and_nothing_is_lost() {
        let meter = Meter::default();
        let extra = 5;
        for i in 0..MAX_SESSIONS_PER_ACCOUNT + extra {
            meter.cell(1, 0, "", Some(&format!("s{i}"))).add_down(10);
        }
        // The same session again reuses its cell; another account has its own allowance.
        meter.cell(1, 0, "", Some("s0")).add_down(1);
        meter.cell(2, 0, "", Some("s0")).add_down(7);
        let out = meter.drain(0);
        let of_one: Vec<&UsageRecord> = out.iter().filter(|r| r.account_id == 1).collect();
        let labelled = of_one.iter().filter(|r| !r.session.is_empty()).count();
        assert_eq!(labelled, MAX_SESSIONS_PER_ACCOUNT as usize);
        let unlabelled: u64 = of_one
            .iter()
            .filter(|r| r.session.is_empty())
            .map(|r| r.bytes_down)
            .sum();
        assert_eq!(unlabelled, u64::from(extra) * 10);
        let total: u64 = of_one.iter().map(|r| r.bytes_down).sum();
        assert_eq!(total, u64::from(MAX_SESSIONS_PER_ACCOUNT + extra) * 10 + 1);
        assert!(out.iter().any(|r| r.account_id == 2 && r.session == "s0"));
        // After the drain nobody holds the cells: the allowance is free again.
        assert!(lock(&meter.cells).sessions.is_empty());
        meter.cell(1, 0, "", Some("fresh")).add_down(1);
        assert_eq!(meter.drain(0)[0].session, "fresh");
    }

    #[test]
    fn hours_are_aligned() {
        let t = UNIX_EPOCH + Duration::from_millis(3_600_000 * 5 + 1234);
        assert_eq!(hour_start_ms(t), 3_600_000 * 5);
    }
}
