//! The reconciliation ledger: per (account, hour), bytes drained from the meter's cells
//! against bytes of batches the sink confirmed written. Their difference is the drift.

use std::collections::HashMap;

use super::UsageRecord;

/// Bytes (up + down) metered and confirmed written, per (account, hour start ms). Entries
/// whose two sides are equal are dropped, so it holds no more than the accounts and hours
/// with drift.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    by_bucket: HashMap<(i64, i64), (u64, u64)>,
    /// When counts were last drained for a flush (epoch ms): whatever was metered before is
    /// in `by_bucket`, written or drift.
    pub(super) drained_at_ms: Option<i64>,
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

pub(super) fn record_bytes(r: &UsageRecord) -> u64 {
    r.bytes_up + r.bytes_down
}

impl Ledger {
    pub(super) fn metered(&mut self, records: &[UsageRecord]) {
        for r in records {
            let e = self
                .by_bucket
                .entry((r.account_id, r.hour_start_ms))
                .or_default();
            e.0 += record_bytes(r);
        }
        self.prune();
    }

    pub(super) fn written(&mut self, records: &[UsageRecord]) {
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

    pub(super) fn drift(&self) -> UsageDrift {
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
