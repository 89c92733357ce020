//! Periodic work: expired sessions, old usage batch ids, limiter keys whose budget refilled, billing (webhook
//! retries, automatic renewals, refunds, grace and expiry) and quota warnings, and the backup
//! gauges (read from the database, where `atlantic backup create` records each backup) and the
//! scheduled backup (`ATLANTIC_BACKUP_EVERY`). [`run_once`]
//! does all of it once; the service's loop ([`run`]) does each part at its own interval, and
//! tests call [`Housekeeper::run_once`] instead of waiting for an interval.
//!
//! Several dashboard nodes may run on one database: the billing pass runs on one of them at a
//! time, whichever holds its job lock ([`store::job_lock`]); the others skip that round. So
//! does the scheduled backup.

use std::time::{Duration, Instant};

use store::job_lock::{self, Job};
use tower_sessions::ExpiredDeletion;

use crate::auth::DbSessionStore;
use crate::state::AppState;
use crate::{backup, billing, http, quota_warnings};

/// How often expired sessions are deleted.
const SWEEP_SESSIONS_EVERY: Duration = Duration::from_secs(600);
/// How long [`run_once`] waits for a billing pass running on another node to end.
const RUN_NOW_WAIT: Duration = Duration::from_secs(15);
/// How often limiter keys whose budget refilled are forgotten.
const FORGET_LIMITER_KEYS_EVERY: Duration = Duration::from_secs(60);
/// How often the backup gauges are read from the database.
const REFRESH_BACKUP_GAUGES_EVERY: Duration = Duration::from_secs(60);
/// How often a node checks whether the scheduled backup is due.
const CHECK_BACKUP_DUE_EVERY: Duration = Duration::from_secs(60);

/// What one run of [`run_once`] did. Each part logs its own failures.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    /// Whether expired sessions were deleted (false: the database refused, see the log).
    pub sessions_swept: bool,
    /// Whether this node ran the billing pass (false: another node held its lock throughout,
    /// or the lock could not be taken, see the log).
    pub billing_ran: bool,
    /// How long the run took.
    pub took: Duration,
}

/// Everything housekeeping needs, for running it on demand (tests get one from
/// [`crate::run_with_handles`]).
#[derive(Clone)]
pub struct Housekeeper {
    state: AppState,
    sessions: DbSessionStore,
}

impl Housekeeper {
    pub(crate) fn new(state: AppState, sessions: DbSessionStore) -> Housekeeper {
        Housekeeper { state, sessions }
    }

    /// Runs every part of housekeeping once, now.
    pub async fn run_once(&self) -> Report {
        run_once(&self.state, &self.sessions).await
    }

    /// Runs each part at its interval until the service shuts down; a run in progress is
    /// abandoned then (each part is safe to interrupt: the next run picks up).
    pub(crate) async fn run(self) {
        let shutdown = self.state.shutdown.clone();
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = run(&self.state, &self.sessions) => {}
        }
    }
}

/// Every part of housekeeping, once.
pub async fn run_once(state: &AppState, sessions: &DbSessionStore) -> Report {
    let started = Instant::now();
    http::rate_limit::forget_idle(state);
    let sessions_swept = sweep_sessions(sessions).await;
    forget_usage_batch_ids(state).await;
    // asked for now: wait for a pass running elsewhere to end, then run it here
    let billing_ran = billing_once(state, RUN_NOW_WAIT).await;
    if let Some(schedule) = &state.config.backup {
        backup::Scheduler::default()
            .run_if_due(&state.db, &state.config.database_url, schedule)
            .await;
    }
    backup::gauges::refresh(&state.db).await;
    Report {
        sessions_swept,
        billing_ran,
        took: started.elapsed(),
    }
}

/// Each part at its own interval, forever (the first of each at once); the parts run side by
/// side, so a slow billing pass does not hold up the others.
async fn run(state: &AppState, sessions: &DbSessionStore) {
    let sweep = async {
        let mut tick = tokio::time::interval(SWEEP_SESSIONS_EVERY);
        loop {
            tick.tick().await;
            sweep_sessions(sessions).await;
            forget_usage_batch_ids(state).await;
        }
    };
    let forget = async {
        let mut tick = tokio::time::interval(FORGET_LIMITER_KEYS_EVERY);
        loop {
            tick.tick().await;
            http::rate_limit::forget_idle(state);
        }
    };
    let billing = async {
        let mut tick = tokio::time::interval(state.config.billing_interval);
        loop {
            tick.tick().await;
            billing_once(state, Duration::ZERO).await;
        }
    };
    let backup_gauges = async {
        let mut tick = tokio::time::interval(REFRESH_BACKUP_GAUGES_EVERY);
        loop {
            tick.tick().await;
            backup::gauges::refresh(&state.db).await;
        }
    };
    let scheduled_backup = async {
        let Some(schedule) = &state.config.backup else {
            return;
        };
        let mut scheduler = backup::Scheduler::default();
        let mut tick = tokio::time::interval(CHECK_BACKUP_DUE_EVERY);
        loop {
            tick.tick().await;
            scheduler
                .run_if_due(&state.db, &state.config.database_url, schedule)
                .await;
        }
    };
    tokio::join!(sweep, forget, billing, backup_gauges, scheduled_backup);
}

/// Deletes expired sessions; false when the database refused.
async fn sweep_sessions(sessions: &DbSessionStore) -> bool {
    match sessions.delete_expired().await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(%error, "deleting expired sessions failed");
            false
        }
    }
}

/// Forgets the ids of usage batches written long ago (kept so that a retried batch is not
/// counted twice, see `store::usage::record_batch`).
async fn forget_usage_batch_ids(state: &AppState) {
    let before = store::now_ms().saturating_sub(store::usage::BATCH_IDS_KEPT_MS);
    if let Err(error) = store::usage::prune_batch_ids(&state.db, before).await {
        tracing::warn!(%error, "forgetting old usage batch ids failed");
    }
}

/// One billing pass (`ATLANTIC_BILLING_INTERVAL_SECS`) and the quota warnings, unless another
/// node is running them and does not finish within `wait`; says whether it ran.
async fn billing_once(state: &AppState, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    let lock = loop {
        match job_lock::try_lock(&state.db, Job::Billing).await {
            Ok(Some(lock)) => break lock,
            Ok(None) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(None) => {
                tracing::debug!("billing pass: another node is running it");
                return false;
            }
            Err(error) => {
                tracing::warn!(%error, "billing pass: cannot take its lock; skipping this round");
                return false;
            }
        }
    };
    billing::webhook::retry_unprocessed(state).await;
    // Renewals first: a period renewed in time never passes through grace.
    billing::card_renewal::renew_due(state).await;
    billing::settle::retry_refunds(&state.db, &state.paystack).await;
    billing::expire_due(state).await;
    quota_warnings::send_due(state).await;
    if let Err(error) = lock.release().await {
        tracing::warn!(
            %error,
            "billing pass: releasing its lock failed (it goes with its connection)"
        );
    }
    true
}
