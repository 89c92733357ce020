//! Whether the database answers, checked once a second, so that the dashboard can answer a
//! clear 503 at once while it is away (instead of a 500, or a wait for the connection pool's
//! timeout on every request) and serve again within a second or two of its return. The
//! gateway does not depend on it: it serves the accounts it knows from memory, and its usage
//! waits in memory and in the spool until the database takes it.
//!
//! Metrics: `atlantic_database_up` (1 or 0, from the check), and
//! `atlantic_database_write_failures_total{reason}` for writes the database refused, with
//! `reason="storage_full"` when its disk is full (`AtlanticDatabaseStorageFull` fires on it).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use store::{Db, StoreError};
use tokio_util::sync::CancellationToken;

const UP: &str = "atlantic_database_up";
const WRITE_FAILURES: &str = "atlantic_database_write_failures_total";
/// How often the database is checked.
const EVERY: Duration = Duration::from_secs(1);
/// A check that takes longer than this counts as the database being away.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// The reasons a write failure is counted under.
const REASONS: [&str; 3] = ["storage_full", "unavailable", "other"];

/// The latest verdict; cheap to clone and to read on every request.
#[derive(Clone, Debug)]
pub struct DatabaseWatch {
    up: Arc<AtomicBool>,
}

impl Default for DatabaseWatch {
    /// Up: the service only starts once the database answered (migrations ran).
    fn default() -> Self {
        DatabaseWatch {
            up: Arc::new(AtomicBool::new(true)),
        }
    }
}

impl DatabaseWatch {
    /// Whether the last check got an answer.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Checks the database every second until `stop`, logging each change of verdict.
    pub async fn run(self, db: Db, stop: CancellationToken) {
        describe();
        loop {
            let up = matches!(
                tokio::time::timeout(CHECK_TIMEOUT, db.ping()).await,
                Ok(Ok(_))
            );
            let was = self.up.swap(up, Ordering::Relaxed);
            metrics::gauge!(UP).set(if up { 1.0 } else { 0.0 });
            match (was, up) {
                (true, false) => {
                    tracing::error!("the database does not answer: the dashboard answers 503")
                }
                (false, true) => tracing::info!("the database answers again"),
                _ => {}
            }
            tokio::select! {
                () = tokio::time::sleep(EVERY) => {}
                () = stop.cancelled() => return,
            }
        }
    }
}

fn describe() {
    metrics::describe_gauge!(
        UP,
        "Whether the database answered the last check (each second)"
    );
    metrics::describe_counter!(
        WRITE_FAILURES,
        "Writes the database refused or did not take, by reason (storage_full, unavailable, other)"
    );
    metrics::gauge!(UP).set(1.0);
    for reason in REASONS {
        metrics::counter!(WRITE_FAILURES, "reason" => reason).absolute(0);
    }
}

/// Counts a failed write under its reason; a full disk is also logged as such, with the
/// remedy, since nothing else will be written until space is freed.
pub fn write_failed(what: &'static str, error: &StoreError) {
    let reason = match error {
        StoreError::StorageFull(_) => "storage_full",
        e if e.is_unavailable() => "unavailable",
        _ => "other",
    };
    metrics::counter!(WRITE_FAILURES, "reason" => reason).increment(1);
    if reason == "storage_full" {
        tracing::error!(%error, what, "the database's disk is full: writes are refused until space is freed on its volume");
    }
}
