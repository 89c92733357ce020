//! The meter's unit tests: draining, batches and their ids, retries, drift, session labels.
use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicBool;

use super::ledger::record_bytes;
use super::*;

/// A sink that stores batch ids with the counts, as the service's does, and can fail before
/// writing (the database is down) or after (the answer to a commit is lost).
#[derive(Default)]
struct Sink {
    fail: AtomicBool,
    lose_answer: AtomicBool,
    got: Mutex<Vec<UsageRecord>>,
    ids: Mutex<Vec<Arc<str>>>,
    kept: Mutex<HashMap<String, Vec<UsageRecord>>>,
    confirmed: Mutex<Vec<String>>,
}

impl UsageSink for Sink {
    async fn flush(&self, batch: UsageBatch) -> Result<(), BoxError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err("database down".into());
        }
        let mut ids = self.ids.lock().expect("lock");
        if !ids.contains(&batch.id) {
            ids.push(batch.id.clone());
            self.got.lock().expect("lock").extend(batch.records);
        }
        if self.lose_answer.load(Ordering::SeqCst) {
            return Err("connection reset while committing".into());
        }
        Ok(())
    }

    async fn keep(&self, batch_id: &str, records: &[UsageRecord]) {
        let mut kept = self.kept.lock().expect("lock");
        kept.entry(batch_id.to_owned())
            .or_default()
            .extend_from_slice(records);
    }

    async fn written(&self, batch_id: &str) {
        self.confirmed
            .lock()
            .expect("lock")
            .push(batch_id.to_owned());
    }
}

impl Sink {
    fn totals(&self) -> (u64, u64, u64, u64) {
        self.got
            .lock()
            .expect("lock")
            .iter()
            .fold((0, 0, 0, 0), |t, r| {
                (
                    t.0 + r.bytes_up,
                    t.1 + r.bytes_down,
                    t.2 + r.requests,
                    t.3 + r.errors,
                )
            })
    }
}

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn failed_flush_keeps_counts_for_the_next_one() {
    let meter = Meter::default();
    let sink = Sink::default();
    let cell = meter.cell(7, 0, "", None);
    cell.add_up(100);
    cell.add_request();
    sink.fail.store(true, Ordering::SeqCst);
    assert!(meter.flush(&sink, SECOND).await.error.is_some());
    assert_eq!((meter.pending_len(), meter.pending_batches()), (1, 1));
    cell.add_up(5);
    cell.add_down(10);
    cell.add_error(ErrorCode::UpstreamFailed);
    sink.fail.store(false, Ordering::SeqCst);
    let flushed = meter.flush(&sink, SECOND).await;
    assert!(flushed.error.is_none());
    assert_eq!(
        flushed.written.len(),
        2,
        "the retried batch, then the new one"
    );
    assert_eq!(sink.totals(), (105, 10, 1, 1));
    let errors: Vec<_> = sink
        .got
        .lock()
        .expect("lock")
        .iter()
        .flat_map(|r| r.errors_by_code.clone())
        .collect();
    assert_eq!(errors, vec![(ErrorCode::UpstreamFailed, 1)]);
    assert_eq!(meter.pending_len(), 0);
    let flushed = meter.flush(&sink, SECOND).await;
    assert!(flushed.error.is_none() && flushed.written.is_empty());
}

#[tokio::test]
async fn a_batch_whose_answer_was_lost_is_retried_under_its_id_and_counted_once() {
    let meter = Meter::default();
    let sink = Sink::default();
    let cell = meter.cell(1, 0, "", None);
    cell.add_down(1_000);
    sink.lose_answer.store(true, Ordering::SeqCst);
    assert!(meter.flush(&sink, SECOND).await.error.is_some());
    // Counted meanwhile: not added to the batch already offered, which may be written.
    cell.add_down(7);
    assert!(meter.flush(&sink, SECOND).await.error.is_some());
    assert_eq!(meter.pending_batches(), 2);
    sink.lose_answer.store(false, Ordering::SeqCst);
    let flushed = meter.flush(&sink, SECOND).await;
    assert!(flushed.error.is_none());
    assert_eq!(sink.totals().1, 1_007, "each byte once");
    let ids = sink.ids.lock().expect("lock").clone();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    assert_eq!(
        *sink.confirmed.lock().expect("lock"),
        ids.iter().map(|i| i.to_string()).collect::<Vec<_>>(),
        "confirmed in order"
    );
    assert_eq!(meter.drift().bytes, 0);
}

#[tokio::test]
async fn counts_drained_during_an_outage_grow_one_batch_and_every_count_is_kept_first() {
    let meter = Meter::default();
    let sink = Sink::default();
    sink.fail.store(true, Ordering::SeqCst);
    for second in 1..=30u64 {
        meter.cell((second % 3) as i64, 0, "", None).add_up(second);
        assert!(meter.flush(&sink, SECOND).await.error.is_some());
    }
    assert_eq!(
        meter.pending_batches(),
        2,
        "the one offered first, and one growing"
    );
    assert_eq!(meter.pending_len(), 1 + 3);
    // Everything drained was handed to `keep` under the id it is sent with.
    let kept: u64 = sink
        .kept
        .lock()
        .expect("lock")
        .values()
        .flatten()
        .map(|r| r.bytes_up)
        .sum();
    assert_eq!(kept, (1..=30).sum::<u64>());
    sink.fail.store(false, Ordering::SeqCst);
    assert!(meter.flush(&sink, SECOND).await.error.is_none());
    assert_eq!(sink.totals().0, (1..=30).sum::<u64>());
    let sent: HashSet<String> = sink
        .ids
        .lock()
        .expect("lock")
        .iter()
        .map(|i| i.to_string())
        .collect();
    let kept_ids: HashSet<String> = sink.kept.lock().expect("lock").keys().cloned().collect();
    assert_eq!(sent, kept_ids);
}

#[tokio::test]
async fn drift_grows_while_flushes_fail_and_is_exactly_zero_after_the_retry() {
    let meter = Meter::default();
    let sink = Sink::default();
    let flush = || async { meter.flush(&sink, SECOND).await.error.is_none() };
    assert_eq!(meter.drift(), UsageDrift::default());
    sink.fail.store(true, Ordering::SeqCst);
    let a = meter.cell(1, 0, "", None);
    let b = meter.cell(2, 5, "de", Some("s"));
    a.add_up(100);
    b.add_down(7);
    assert!(!flush().await);
    let d = meter.drift();
    assert_eq!((d.bytes, d.accounts), (107, 2));
    a.add_down(3);
    assert!(!flush().await);
    assert!(!flush().await);
    let d = meter.drift();
    assert_eq!((d.bytes, d.accounts), (110, 2));
    let hour = d.buckets[0].1;
    assert_eq!(d.buckets, vec![(1, hour, 103), (2, hour, 7)]);
    sink.fail.store(false, Ordering::SeqCst);
    assert!(flush().await);
    let d = meter.drift();
    assert_eq!((d.bytes, d.accounts, d.buckets.len()), (0, 0, 0));
    assert!(d.drained_at_ms.is_some(), "the drain is stamped");
    let got = sink.got.lock().expect("lock").clone();
    let written: u64 = got.iter().map(record_bytes).sum();
    assert_eq!(written, 110, "written once, not once per attempt");
    // More traffic after recovery: written as usual, no drift left over.
    b.add_up(1);
    assert!(flush().await);
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
