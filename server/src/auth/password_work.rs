//! The cap on argon2 work running at once (sign-in, registration, password change). Each
//! check takes tens of milliseconds of a core and 19 MiB of memory; without a cap, a burst of
//! sign-ins from many addresses queues on the blocking pool and every request waits. Past the
//! cap a request is answered `503` with `Retry-After` at once instead of queueing.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use store::accounts;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What a client over the cap is told to wait, in seconds: one check is well under a second.
pub const RETRY_AFTER_SECS: u64 = 1;

/// Why password work did not run.
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    /// Every slot is taken; try again shortly.
    #[error("every password check slot is busy")]
    Busy,
    /// Hashing failed (or its task did).
    #[error("password hashing failed")]
    Failed,
}

impl IntoResponse for WorkError {
    fn into_response(self) -> Response {
        match self {
            WorkError::Busy => busy(),
            WorkError::Failed => (
                StatusCode::SERVICE_UNAVAILABLE,
                "password checks are unavailable, try again\n",
            )
                .into_response(),
        }
    }
}

/// `503` with `Retry-After`: the answer when every slot is taken.
pub fn busy() -> Response {
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        "too many sign-ins at once, try again in a second\n",
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    response
}

/// The slots, shared by every request.
#[derive(Clone, Debug)]
pub struct PasswordWork {
    slots: Arc<Semaphore>,
}

impl PasswordWork {
    /// At most `slots` argon2 computations at once (at least one).
    pub fn new(slots: usize) -> PasswordWork {
        PasswordWork {
            slots: Arc::new(Semaphore::new(slots.max(1))),
        }
    }

    fn slot(&self) -> Result<OwnedSemaphorePermit, WorkError> {
        self.slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| WorkError::Busy)
    }

    /// Whether `password` matches `hash`, on the blocking pool. An unknown account (`None`)
    /// spends the same time, so timing does not reveal which emails exist.
    pub async fn verify(&self, hash: Option<String>, password: String) -> Result<bool, WorkError> {
        let slot = self.slot()?;
        // The slot moves into the task: it is held while the CPU works, even if the client
        // goes away meanwhile.
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            match hash {
                Some(hash) => accounts::verify_password(&password, &hash),
                None => {
                    accounts::dummy_verify(&password);
                    false
                }
            }
        })
        .await
        .map_err(|_| WorkError::Failed)
    }

    /// Hashes a new password on the blocking pool.
    pub async fn hash(&self, password: String) -> Result<String, WorkError> {
        let slot = self.slot()?;
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            accounts::hash_password(&password)
        })
        .await
        .map_err(|_| WorkError::Failed)?
        .map_err(|_| WorkError::Failed)
    }

    /// The default number of slots: the cores the process may use.
    pub fn default_slots() -> usize {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn past_the_cap_work_is_refused_not_queued() {
        let work = PasswordWork::new(1);
        let held = work.slot().expect("the one slot");
        assert!(matches!(
            work.verify(None, "password".into()).await,
            Err(WorkError::Busy)
        ));
        assert!(matches!(
            work.hash("password".into()).await,
            Err(WorkError::Busy)
        ));
        let response = busy();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        drop(held);
        assert!(!work.verify(None, "password".into()).await.expect("a slot"));
    }
}
