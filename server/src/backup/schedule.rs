//! The scheduled backup (`ATLANTIC_BACKUP_EVERY`): dashboard nodes check every minute
//! whether the newest recorded backup is older than the interval, and the one that takes the
//! backup job lock (`store::job_lock`: a PostgreSQL advisory lock; SQLite has one process)
//! takes the backup, prunes, and refreshes the gauges. Going by the recorded backups rather
//! than a timer of its own, a restart neither adds a backup nor delays one, and a backup taken
//! by cron counts too.

use std::time::{Duration, Instant};

use store::Db;
use store::job_lock::{self, Job};

use super::gauges;
use crate::config::BackupSchedule;

/// After a failed backup, how long before the next try (the failure is logged each time).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(600);

/// The schedule's state on one node: when its last attempt failed.
#[derive(Debug, Default)]
pub struct Scheduler {
    failed_at: Option<Instant>,
}

impl Scheduler {
    /// Takes a backup if one is due and no other node is taking it; says whether it did.
    pub async fn run_if_due(&mut self, db: &Db, url: &str, schedule: &BackupSchedule) -> bool {
        if self
            .failed_at
            .is_some_and(|at| at.elapsed() < RETRY_AFTER_FAILURE)
        {
            return false;
        }
        if !due(db, schedule).await {
            return false;
        }
        let lock = match job_lock::try_lock(db, Job::Backup).await {
            Ok(Some(lock)) => lock,
            Ok(None) => {
                tracing::debug!("scheduled backup: another node is taking it");
                return false;
            }
            Err(error) => {
                tracing::warn!(%error, "scheduled backup: cannot take its lock; skipping");
                return false;
            }
        };
        // another node may have finished one while this one waited for the lock
        let taken = due(db, schedule).await && self.take(db, url, schedule).await;
        if let Err(error) = lock.release().await {
            tracing::warn!(
                %error,
                "scheduled backup: releasing its lock failed (it goes with its connection)"
            );
        }
        taken
    }

    async fn take(&mut self, db: &Db, url: &str, schedule: &BackupSchedule) -> bool {
        let created = match super::create(db, url, &schedule.dir, chrono::Utc::now()).await {
            Ok(created) => created,
            Err(error) => {
                self.failed_at = Some(Instant::now());
                tracing::error!(
                    error = %format!("{error:#}"),
                    retry_in_secs = RETRY_AFTER_FAILURE.as_secs(),
                    "scheduled backup failed"
                );
                return false;
            }
        };
        self.failed_at = None;
        tracing::info!(
            file = %created.path.display(),
            size_bytes = created.manifest.size_bytes,
            took_ms = created.took.as_millis(),
            "scheduled backup taken"
        );
        match super::prune(&schedule.dir, schedule.retention) {
            Ok(pruned) => tracing::info!(
                kept = pruned.kept.len(),
                deleted = pruned.deleted.len(),
                "old backups pruned"
            ),
            Err(error) => tracing::warn!(error = %format!("{error:#}"), "pruning backups failed"),
        }
        gauges::refresh(db).await;
        true
    }
}

/// Whether the newest recorded backup is older than the interval (or there is none); false
/// when the database cannot say (logged).
async fn due(db: &Db, schedule: &BackupSchedule) -> bool {
    match store::backups::latest(db).await {
        Ok(None) => true,
        Ok(Some(last)) => {
            let every = i64::try_from(schedule.every.as_millis()).unwrap_or(i64::MAX);
            store::now_ms().saturating_sub(last.created_at) >= every
        }
        Err(error) => {
            tracing::warn!(%error, "scheduled backup: cannot read the last backup");
            false
        }
    }
}
