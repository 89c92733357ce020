//! Who is signed in: the account id, sign-in time and session epoch kept in the session,
//! enforced against the absolute lifetime on every read (the epoch is compared with the
//! account's by [`crate::http`]'s gate), and the half-signed-in state between a correct
//! password and the second factor.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use store::AccountId;
use tower_sessions::Session;

use super::ABSOLUTE_LIFETIME;

const KEY: &str = "identity";

/// What a signed-in session holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The signed-in account.
    pub account_id: AccountId,
    /// When the sign-in happened (epoch ms).
    pub signed_in_at: i64,
    /// The account's session epoch at sign-in; the session ends when the account's moves on
    /// (password change, "sign out everywhere else").
    #[serde(default)]
    pub epoch: i64,
}

impl Identity {
    /// The session's identity, if it is signed in and within its absolute lifetime; an
    /// expired one is removed from the session. An error means the session store did not
    /// answer: the caller cannot tell whether anyone is signed in, and must not treat it as
    /// signed out.
    pub async fn current(
        session: &Session,
        now_ms: i64,
    ) -> Result<Option<Identity>, tower_sessions::session::Error> {
        let Some(identity) = session.get::<Identity>(KEY).await? else {
            return Ok(None);
        };
        let lifetime = i64::try_from(ABSOLUTE_LIFETIME.as_millis()).unwrap_or(i64::MAX);
        if now_ms.saturating_sub(identity.signed_in_at) > lifetime {
            let _ = session.flush().await;
            return Ok(None);
        }
        Ok(Some(identity))
    }
}

const SEEN_KEY: &str = "seen_at";

/// How stale a session's stored expiry may get before a request writes it again. The session
/// store keeps the expiry set by the session's last write, so an idle timeout measured from
/// the last request needs a write now and then; writing on every request would cost a
/// database commit per page. With this, a session ends between `IDLE_TIMEOUT - KEEP_ALIVE_EVERY`
/// and `IDLE_TIMEOUT` after its last request.
pub const KEEP_ALIVE_EVERY: Duration = Duration::from_secs(10 * 60);

/// Marks a signed-in session as used at `now_ms` when its last mark is older than
/// `KEEP_ALIVE_EVERY`, so the session middleware saves it (and its new expiry) with this
/// response. Returns whether it did.
pub async fn keep_alive(
    session: &Session,
    now_ms: i64,
) -> Result<bool, tower_sessions::session::Error> {
    let every = i64::try_from(KEEP_ALIVE_EVERY.as_millis()).unwrap_or(i64::MAX);
    let seen: Option<i64> = session.get(SEEN_KEY).await?;
    if seen.is_some_and(|seen| now_ms.saturating_sub(seen) < every) {
        return Ok(false);
    }
    session.insert(SEEN_KEY, now_ms).await?;
    Ok(true)
}

/// Signs `account` in: a fresh session id first (no fixation), then the identity. Any
/// half-finished two-factor sign-in in this session is dropped.
pub async fn sign_in(
    session: &Session,
    account: AccountId,
    epoch: i64,
    now_ms: i64,
) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session.remove_value(PENDING_KEY).await?;
    session
        .insert(
            KEY,
            Identity {
                account_id: account,
                signed_in_at: now_ms,
                epoch,
            },
        )
        .await?;
    session.insert(SEEN_KEY, now_ms).await
}

/// Keeps this session signed in after the account's epoch moved on because of something done
/// in this very session (a password change, signing out the others).
pub async fn adopt_epoch(
    session: &Session,
    identity: Identity,
    epoch: i64,
) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session.insert(KEY, Identity { epoch, ..identity }).await
}

const PENDING_KEY: &str = "pending_second_factor";
/// How long the second-factor step may take after the password was accepted.
const PENDING_LIFETIME_MS: i64 = 5 * 60 * 1000;
/// Wrong codes after which the half-finished sign-in ends and the password is needed again.
pub const MAX_SECOND_FACTOR_FAILURES: u32 = 10;

/// A sign-in whose password was right and whose second factor is still to come.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSecondFactor {
    /// The account the password was for.
    pub account_id: AccountId,
    /// When the password was accepted (epoch ms).
    pub since: i64,
    /// Wrong codes so far (the rate limits slow guessing; this ends it).
    #[serde(default)]
    pub failures: u32,
}

impl PendingSecondFactor {
    /// Starts the second-factor step: a fresh session id, no identity, the pending account.
    pub async fn start(
        session: &Session,
        account: AccountId,
        now_ms: i64,
    ) -> Result<(), tower_sessions::session::Error> {
        session.cycle_id().await?;
        session.remove_value(KEY).await?;
        session
            .insert(
                PENDING_KEY,
                PendingSecondFactor {
                    account_id: account,
                    since: now_ms,
                    failures: 0,
                },
            )
            .await
    }

    /// The pending sign-in, if there is one and it is less than five minutes old.
    pub async fn current(session: &Session, now_ms: i64) -> Option<PendingSecondFactor> {
        let pending: PendingSecondFactor = session.get(PENDING_KEY).await.ok().flatten()?;
        (now_ms.saturating_sub(pending.since) <= PENDING_LIFETIME_MS).then_some(pending)
    }

    /// Counts a wrong code. The [`MAX_SECOND_FACTOR_FAILURES`]th ends the pending sign-in
    /// (removed from the session) and returns `true`.
    pub async fn record_failure(
        self,
        session: &Session,
    ) -> Result<bool, tower_sessions::session::Error> {
        let failures = self.failures.saturating_add(1);
        if failures >= MAX_SECOND_FACTOR_FAILURES {
            session.remove_value(PENDING_KEY).await?;
            return Ok(true);
        }
        session
            .insert(PENDING_KEY, PendingSecondFactor { failures, ..self })
            .await?;
        Ok(false)
    }
}

/// Ends the session: its record is deleted and the cookie cleared.
pub async fn sign_out(session: &Session) -> Result<(), tower_sessions::session::Error> {
    session.flush().await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tower_sessions::MemoryStore;

    use super::*;

    #[tokio::test]
    async fn the_tenth_wrong_code_ends_the_pending_sign_in() {
        let session = Session::new(None, Arc::new(MemoryStore::default()), None);
        let account = AccountId(7);
        PendingSecondFactor::start(&session, account, 1_000)
            .await
            .expect("started");
        for n in 1..MAX_SECOND_FACTOR_FAILURES {
            let pending = PendingSecondFactor::current(&session, 2_000)
                .await
                .expect("still pending");
            assert_eq!(pending.failures, n - 1);
            assert!(
                !pending.record_failure(&session).await.expect("stored"),
                "{n}"
            );
        }
        let pending = PendingSecondFactor::current(&session, 2_000)
            .await
            .expect("pending after nine");
        assert!(pending.record_failure(&session).await.expect("stored"));
        assert!(
            PendingSecondFactor::current(&session, 2_000)
                .await
                .is_none()
        );
        assert!(
            Identity::current(&session, 2_000)
                .await
                .expect("read")
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_used_session_is_written_again_once_its_mark_is_old() {
        let store = Arc::new(MemoryStore::default());
        let session = Session::new(None, store.clone(), None);
        sign_in(&session, AccountId(7), 1, 1_000)
            .await
            .expect("signed in");
        session.save().await.expect("saved");
        let id = session.id();
        let every = i64::try_from(KEEP_ALIVE_EVERY.as_millis()).expect("fits");

        // the next request, a minute later: nothing to write
        let later = Session::new(id, store.clone(), None);
        assert!(!keep_alive(&later, 61_000).await.expect("read"));
        assert!(!later.is_modified());

        // a request after the mark went stale: written, and the next one within the period not
        let stale = Session::new(id, store.clone(), None);
        assert!(keep_alive(&stale, 1_000 + every).await.expect("read"));
        assert!(stale.is_modified());
        stale.save().await.expect("saved");
        let again = Session::new(id, store, None);
        assert!(!keep_alive(&again, 1_000 + every + 1).await.expect("read"));
        assert_eq!(
            Identity::current(&again, 2_000).await.expect("read"),
            Some(Identity {
                account_id: AccountId(7),
                signed_in_at: 1_000,
                epoch: 1,
            })
        );
    }
}
