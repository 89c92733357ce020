//! The batches drained from the meter and not yet confirmed written, in drain order.
//!
//! Every batch has an id, unique across processes, that it keeps until the sink confirms it:
//! a sink that stores the id in the same transaction as the counts can then tell a retry of a
//! batch it already wrote (the answer to its commit was lost) from a new one, so nothing is
//! counted twice. A batch is never changed once it was offered to the sink; counts drained
//! while earlier batches wait are added to the last batch that was not offered yet, so a long
//! outage keeps one growing batch instead of one per flush.

use std::collections::VecDeque;
use std::sync::Arc;

use super::{UsageRecord, merge};

/// A batch of usage records with its id, as handed to the sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageBatch {
    /// Unique across processes and restarts: `<process tag>-<sequence>`.
    pub id: Arc<str>,
    /// The counts, at most one record per (account, exit, hour, country, session).
    pub records: Vec<UsageRecord>,
}

#[derive(Debug)]
struct Waiting {
    batch: UsageBatch,
    /// Offered to the sink at least once: its content is final.
    offered: bool,
}

/// The queue, and the source of batch ids.
#[derive(Debug)]
pub(crate) struct Outbox {
    queue: VecDeque<Waiting>,
    tag: String,
    next: u64,
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox {
            queue: VecDeque::new(),
            // 64 random bits: two processes never share a tag in practice.
            tag: format!("{:016x}", rand::random::<u64>()),
            next: 1,
        }
    }
}

impl Outbox {
    /// Adds freshly drained records: to the last batch if it was never offered, else to a new
    /// batch. Returns the id they went under (`None` for no records).
    pub(crate) fn add(&mut self, fresh: Vec<UsageRecord>) -> Option<Arc<str>> {
        if fresh.is_empty() {
            return None;
        }
        if let Some(last) = self.queue.back_mut().filter(|w| !w.offered) {
            merge(&mut last.batch.records, fresh);
            return Some(last.batch.id.clone());
        }
        let seq = self.next;
        self.next += 1;
        let id: Arc<str> = Arc::from(format!("{}-{seq}", self.tag));
        self.queue.push_back(Waiting {
            batch: UsageBatch {
                id: id.clone(),
                records: fresh,
            },
            offered: false,
        });
        Some(id)
    }

    /// The oldest batch, marked offered: from now on its content is final.
    pub(crate) fn offer_first(&mut self) -> Option<UsageBatch> {
        let first = self.queue.front_mut()?;
        first.offered = true;
        Some(first.batch.clone())
    }

    /// Removes the oldest batch once the sink confirmed it (only if it is still `id`).
    pub(crate) fn confirm(&mut self, id: &str) {
        if self.queue.front().is_some_and(|w| &*w.batch.id == id) {
            self.queue.pop_front();
        }
    }

    /// Records waiting, over all batches.
    pub(crate) fn records(&self) -> usize {
        self.queue.iter().map(|w| w.batch.records.len()).sum()
    }

    /// Batches waiting.
    pub(crate) fn batches(&self) -> usize {
        self.queue.len()
    }
}
