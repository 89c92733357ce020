//! Who is signed in: the account id and sign-in time kept in the session, enforced against
//! the absolute lifetime on every read.

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
}

impl Identity {
    /// The session's identity, if it is signed in and within its absolute lifetime; an
    /// expired one is removed from the session.
    pub async fn current(session: &Session, now_ms: i64) -> Option<Identity> {
        let identity: Identity = session.get(KEY).await.ok().flatten()?;
        let lifetime = i64::try_from(ABSOLUTE_LIFETIME.as_millis()).unwrap_or(i64::MAX);
        if now_ms.saturating_sub(identity.signed_in_at) > lifetime {
            let _ = session.flush().await;
            return None;
        }
        Some(identity)
    }
}

/// Signs `account` in: a fresh session id first (no fixation), then the identity.
pub async fn sign_in(
    session: &Session,
    account: AccountId,
    now_ms: i64,
) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session
        .insert(
            KEY,
            Identity {
                account_id: account,
                signed_in_at: now_ms,
            },
        )
        .await
}

/// Ends the session: its record is deleted and the cookie cleared.
pub async fn sign_out(session: &Session) -> Result<(), tower_sessions::session::Error> {
    session.flush().await
}
