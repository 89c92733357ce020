//! Periodic work: expired sessions, limiter keys whose budget refilled, and billing (webhook
//! retries, automatic renewals, refunds, grace and expiry) and quota warnings. [`run_once`]
//! does all of it once; the service's loop ([`run`]) does each part at its own interval, and
//! tests call [`Housekeeper::run_once`] instead of waiting for an interval.

use std::time::{Duration, Instant};

use tower_sessions::ExpiredDeletion;

use crate::auth::DbSessionStore;
use crate::state::AppState;
use crate::{billing, http, quota_warnings};

/// How often expired sessions are deleted.
const SWEEP_SESSIONS_EVERY: Duration = Duration::from_secs(600);
/// How often limiter keys whose budget refilled are forgotten.
const FORGET_LIMITER_KEYS_EVERY: Duration = Duration::from_secs(60);

/// What one run of [`run_once`] did. Each part logs its own failures.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    /// Whether expired sessions were deleted (false: the database refused, see the log).
    pub sessions_swept: bool,
    /// How long the run took.
    pub took: Duration,
}

/// Everything housekeeping needs, for running it on demand (tests get one from
/// [`crate::run_with_housekeeper`]).
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
    billing_once(state).await;
    Report {
        sessions_swept,
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
            billing_once(state).await;
        }
    };
    tokio::join!(sweep, forget, billing);
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

/// One billing pass (`ATLANTIC_BILLING_INTERVAL_SECS`) and the quota warnings.
async fn billing_once(state: &AppState) {
    billing::webhook::retry_unprocessed(state).await;
    // Renewals first: a period renewed in time never passes through grace.
    billing::card_renewal::renew_due(state).await;
    billing::settle::retry_refunds(&state.db, &state.paystack).await;
    billing::expire_due(state).await;
    quota_warnings::send_due(state).await;
}
