//! What the session inspector shows of a live sticky session: its open connections and the
//! bytes they carried, and the token that closes them when the session is ended. A
//! [`SessionLive`] is held by the session's entry in the exits' session table and by every
//! connection opened under it (a [`SessionGuard`] counts it open while it lives).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::account_state::AccountState;
use crate::locks::lock;

/// Sessions one gateway lists in a snapshot at most, those with open connections first: the
/// inspector shows the sessions in use, and the snapshot stays small enough to publish every
/// second in a cluster.
pub(crate) const MAX_LISTED: usize = 1_000;

/// The live side of one sticky session.
#[derive(Debug)]
pub(crate) struct SessionLive {
    open: AtomicU32,
    up: AtomicU64,
    down: AtomicU64,
    /// Cancelled to close the session's tunnels: when it is ended, or (being a child of the
    /// account's token) when the account's connections are cut.
    cut: Mutex<CancellationToken>,
    ended: AtomicBool,
    /// When the session started, on the engine's clock.
    pub(crate) started: Instant,
}

impl SessionLive {
    pub(crate) fn new(account: &AccountState, started: Instant) -> Self {
        Self {
            open: AtomicU32::new(0),
            up: AtomicU64::new(0),
            down: AtomicU64::new(0),
            cut: Mutex::new(account.cut_token().child_token()),
            ended: AtomicBool::new(false),
            started,
        }
    }

    /// The token a connection of the session stops on. After the account's connections were
    /// cut (its token replaced), the session's next connections get a fresh one; an ended
    /// session's is cancelled for good.
    pub(crate) fn cut_token(&self, account: &AccountState) -> CancellationToken {
        let mut cut = lock(&self.cut);
        if cut.is_cancelled() && !self.is_ended() {
            *cut = account.cut_token().child_token();
        }
        cut.clone()
    }

    /// Closes the session's connections (the session has been ended).
    pub(crate) fn end(&self) {
        let cut = lock(&self.cut);
        self.ended.store(true, Ordering::Relaxed);
        cut.cancel();
    }

    /// Whether the session was ended: its connections must not be reused.
    pub(crate) fn is_ended(&self) -> bool {
        self.ended.load(Ordering::Relaxed)
    }

    pub(crate) fn add_up(&self, n: u64) {
        self.up.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_down(&self, n: u64) {
        self.down.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn open_connections(&self) -> u32 {
        self.open.load(Ordering::Relaxed)
    }

    pub(crate) fn bytes(&self) -> (u64, u64) {
        (
            self.up.load(Ordering::Relaxed),
            self.down.load(Ordering::Relaxed),
        )
    }
}

/// Counts one connection of a session as open while it lives.
#[derive(Debug)]
pub(crate) struct SessionGuard {
    pub(crate) live: Arc<SessionLive>,
}

impl SessionGuard {
    pub(crate) fn new(live: Arc<SessionLive>) -> Self {
        live.open.fetch_add(1, Ordering::Relaxed);
        Self { live }
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.live.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A live sticky session as the session inspector shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionStats {
    /// The account.
    pub account_id: i64,
    /// The session id from the username (`-session-ID`).
    pub session: String,
    /// The exit it is bound to (`0`: direct egress); the snapshot's exits give its name,
    /// country and city.
    pub exit_id: i64,
    /// When the session started, epoch ms.
    pub started_at_ms: i64,
    /// When it ends unless used again after moving, epoch ms.
    pub expires_at_ms: i64,
    /// Connections of the session open now.
    pub open_connections: u32,
    /// Bytes sent toward destinations since the session started.
    pub bytes_up: u64,
    /// Bytes delivered to the customer since the session started.
    pub bytes_down: u64,
}

/// Keeps the sessions a snapshot lists: those with open connections first, then the most
/// recently started, at most [`MAX_LISTED`]; ordered by account, then session id.
pub(crate) fn listed(mut sessions: Vec<SessionStats>) -> Vec<SessionStats> {
    if sessions.len() > MAX_LISTED {
        sessions.sort_by(|a, b| {
            (b.open_connections > 0, b.started_at_ms)
                .cmp(&(a.open_connections > 0, a.started_at_ms))
        });
        sessions.truncate(MAX_LISTED);
    }
    sessions.sort_by(|a, b| (a.account_id, &a.session).cmp(&(b.account_id, &b.session)));
    sessions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(account_id: i64, session: &str, open: u32, started_at_ms: i64) -> SessionStats {
        SessionStats {
            account_id,
            session: session.to_owned(),
            exit_id: 1,
            started_at_ms,
            expires_at_ms: started_at_ms + 60_000,
            open_connections: open,
            bytes_up: 0,
            bytes_down: 0,
        }
    }

    #[test]
    fn a_guard_counts_its_connection_open_while_it_lives() {
        let account = AccountState::new(1);
        let live = Arc::new(SessionLive::new(&account, Instant::now()));
        let one = SessionGuard::new(live.clone());
        let two = SessionGuard::new(live.clone());
        assert_eq!(live.open_connections(), 2);
        drop(one);
        assert_eq!(live.open_connections(), 1);
        drop(two);
        assert_eq!(live.open_connections(), 0);
    }

    #[test]
    fn ending_cuts_the_session_and_a_cut_account_cuts_its_sessions() {
        let account = AccountState::new(1);
        let live = SessionLive::new(&account, Instant::now());
        let first = live.cut_token(&account);
        account.cut_all();
        assert!(
            first.is_cancelled(),
            "the account's cut reaches the session"
        );
        let second = live.cut_token(&account);
        assert!(
            !second.is_cancelled(),
            "later connections get a fresh token"
        );
        live.end();
        assert!(second.is_cancelled());
        assert!(live.cut_token(&account).is_cancelled(), "ended for good");
        assert!(
            !account.cut_token().is_cancelled(),
            "ending one session cuts only it"
        );
    }

    #[test]
    fn the_listing_keeps_busy_sessions_first_when_there_are_too_many() {
        let mut all: Vec<SessionStats> = (0..MAX_LISTED as i64 + 10)
            .map(|i| stats(1, &format!("s{i:05}"), 0, i))
            .collect();
        all.push(stats(2, "busy", 3, -1));
        let kept = listed(all);
        assert_eq!(kept.len(), MAX_LISTED);
        assert!(
            kept.iter().any(|s| s.session == "busy"),
            "open connections first"
        );
        assert!(
            !kept.iter().any(|s| s.session == "s00000"),
            "the oldest idle ones go"
        );
        assert!(
            kept.windows(2)
                .all(|w| (w[0].account_id, &w[0].session) < (w[1].account_id, &w[1].session))
        );
    }
}
