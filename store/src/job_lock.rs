//! Once-per-cluster jobs: a job (the billing pass: renewals, grace and expiry, webhook
//! retries, refunds, quota warnings; the scheduled backup) runs on the node that holds its
//! lock, and every other node skips that round. On PostgreSQL the lock is
//! a session advisory lock held on one connection for as long as the job runs: it cannot be
//! held twice, and it goes with its connection if the node dies mid-job, so no lease time has
//! to be guessed. SQLite belongs to one process, which always holds it.

use sqlx::pool::PoolConnection;
use sqlx::{Acquire, Any};

use crate::{Backend, Db, StoreError};

/// The jobs, each with its own advisory lock key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Job {
    /// The billing pass: webhook retries, automatic renewals, refunds, grace and expiry, and
    /// quota warnings.
    Billing,
    /// The scheduled backup (`ATLANTIC_BACKUP_EVERY`): one node takes it.
    Backup,
}

impl Job {
    /// The advisory lock key (one constant per job, in a range the other locks do not use).
    fn key(self) -> i64 {
        match self {
            Job::Billing => 0x4a4f_4201,
            Job::Backup => 0x4a4f_4202,
        }
    }
}

/// A held job lock; [`JobLock::release`] gives it back. Dropped without it, the lock goes
/// with its connection, which is closed rather than returned to the pool.
#[derive(Debug)]
pub struct JobLock {
    job: Job,
    held: Option<PoolConnection<Any>>,
}

/// Takes `job`'s lock if no node holds it; `None` when another node runs the job now.
pub async fn try_lock(db: &Db, job: Job) -> Result<Option<JobLock>, StoreError> {
    if db.backend() != Backend::Postgres {
        return Ok(Some(JobLock { job, held: None }));
    }
    let mut connection = db.pool().acquire().await?;
    let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(job.key())
        .fetch_one(connection.acquire().await?)
        .await?;
    Ok(taken.then_some(JobLock {
        job,
        held: Some(connection),
    }))
}

impl JobLock {
    /// Gives the lock back (and its connection to the pool).
    pub async fn release(mut self) -> Result<(), StoreError> {
        if let Some(mut connection) = self.held.take() {
            let unlocked: Result<bool, sqlx::Error> =
                sqlx::query_scalar("SELECT pg_advisory_unlock($1)")
                    .bind(self.job.key())
                    .fetch_one(&mut *connection)
                    .await;
            if let Err(error) = unlocked {
                // the lock goes with the connection instead
                drop(connection.detach());
                return Err(error.into());
            }
        }
        Ok(())
    }
}

impl Drop for JobLock {
    fn drop(&mut self) {
        if let Some(connection) = self.held.take() {
            // closing the session releases its advisory locks
            drop(connection.detach());
        }
    }
}
