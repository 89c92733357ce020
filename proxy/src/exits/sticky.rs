//! Sticky sessions: (account, session id) → exit until the session's TTL runs out. The exit
//! changes only when the remembered one is unhealthy or fails; the expiry stays that of the
//! session's first use. Each account may keep a share of the table proportional to its plan,
//! so one customer inventing session ids cannot fill it for everybody; how many it keeps is
//! counted on its [`AccountState`], which every entry holds. Time is passed in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Exits, Route};
use crate::account_state::AccountState;
use crate::username::Targeting;

/// Sessions remembered at most, for all accounts; past this, new sessions are served but not
/// pinned.
const MAX_SESSIONS: usize = 1_000_000;

/// Sessions an account may keep alive per concurrent connection its plan allows (Starter,
/// 50 connections: 500 sessions; Enterprise, 10,000: 100,000).
pub(crate) const SESSIONS_PER_CONNECTION: usize = 10;

#[derive(Debug)]
struct Entry {
    exit_id: i64,
    expires: Instant,
    /// The account, whose session count this entry is part of.
    owner: Arc<AccountState>,
}

#[derive(Debug, Default)]
struct Table {
    map: HashMap<(i64, String), Entry>,
}

impl Table {
    /// Pins a new session of `account` until `expires`, unless the table or the account's
    /// `share` is full (the session is then served unpinned).
    fn pin(
        &mut self,
        key: (i64, String),
        account: &Arc<AccountState>,
        exit_id: i64,
        expires: Instant,
        share: usize,
    ) {
        if self.map.len() >= MAX_SESSIONS || account.sessions() >= share {
            return;
        }
        account.session_pinned();
        self.map.insert(
            key,
            Entry {
                exit_id,
                expires,
                owner: account.clone(),
            },
        );
    }

    fn remove(&mut self, key: &(i64, String)) {
        if let Some(entry) = self.map.remove(key) {
            entry.owner.session_unpinned();
        }
    }
}

/// The session table.
#[derive(Debug, Default)]
pub(crate) struct StickyTable {
    table: Mutex<Table>,
}

/// A new session was asked for while the account already keeps its share alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShareUsed {
    pub(crate) share: usize,
}

impl StickyTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        crate::locks::lock(&self.table)
    }

    /// The exit bound to the session, if the session is alive.
    pub(crate) fn get(&self, account_id: i64, session: &str, now: Instant) -> Option<i64> {
        let mut table = self.lock();
        let key = (account_id, session.to_owned());
        match table.map.get(&key) {
            Some(e) if now < e.expires => Some(e.exit_id),
            Some(_) => {
                table.remove(&key);
                None
            }
            None => None,
        }
    }

    /// The exit of a live session, `Ok(None)` for a session that may start, or the share the
    /// account has used up when it would be one session too many.
    pub(crate) fn admit(
        &self,
        account: &AccountState,
        session: &str,
        share: usize,
        now: Instant,
    ) -> Result<Option<i64>, ShareUsed> {
        if let Some(exit) = self.get(account.id, session, now) {
            return Ok(Some(exit));
        }
        if account.sessions() >= share {
            return Err(ShareUsed { share });
        }
        Ok(None)
    }

    /// Binds the session to `exit_id`: a new session lives `ttl` from now, a moved one keeps
    /// its expiry. A new session past the account's `share` or the table's size is served
    /// unpinned.
    pub(crate) fn bind(
        &self,
        account: &Arc<AccountState>,
        session: &str,
        exit_id: i64,
        ttl: Duration,
        share: usize,
        now: Instant,
    ) {
        let mut table = self.lock();
        let key = (account.id, session.to_owned());
        match table.map.get_mut(&key) {
            Some(entry) if now < entry.expires => entry.exit_id = exit_id,
            Some(entry) => {
                entry.exit_id = exit_id;
                entry.expires = now + ttl;
            }
            None => table.pin(key, account, exit_id, now + ttl, share),
        }
    }

    /// Makes the session what the cluster says: bound to an exit for `ttl` from now (within
    /// the account's `share`), or not bound at all.
    pub(crate) fn adopt(
        &self,
        account: &Arc<AccountState>,
        session: &str,
        binding: Option<(i64, Duration)>,
        share: usize,
        now: Instant,
    ) {
        let mut table = self.lock();
        let key = (account.id, session.to_owned());
        let Some((exit_id, ttl)) = binding else {
            table.remove(&key);
            return;
        };
        match table.map.get_mut(&key) {
            Some(entry) => {
                entry.exit_id = exit_id;
                entry.expires = now + ttl;
            }
            None => table.pin(key, account, exit_id, now + ttl, share),
        }
    }

    /// Drops expired sessions.
    pub(crate) fn purge(&self, now: Instant) {
        let mut table = self.lock();
        let expired: Vec<(i64, String)> = table
            .map
            .iter()
            .filter(|(_, e)| now >= e.expires)
            .map(|(k, _)| k.clone())
            .collect();
        for key in &expired {
            table.remove(key);
        }
    }

    /// Sessions alive.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().map.len()
    }
}

/// The exits' session side: binding after a request, each session's TTL, the cluster's view.
impl Exits {
    /// A request of a session was served through `route`: bind (or move) the session to it.
    pub(super) fn served(
        &self,
        route: &Route,
        t: &Targeting,
        account: &Arc<AccountState>,
        session_share: usize,
        now: Instant,
    ) {
        if let Some(session) = &t.session {
            let ttl = self.session_ttl(t);
            let id = route.id();
            self.sticky
                .bind(account, session, id, ttl, session_share, now);
        }
    }

    /// How long a session of targeting `t` lives: its `ttl` parameter, or the default.
    pub(crate) fn session_ttl(&self, t: &Targeting) -> Duration {
        t.ttl_minutes
            .map_or(self.session_ttl, |m| Duration::from_secs(u64::from(m) * 60))
    }

    /// Takes the cluster's view of a session (its binding, or none) as this node's.
    pub(crate) fn adopt_session(
        &self,
        account: &Arc<AccountState>,
        session: &str,
        binding: Option<(i64, Duration)>,
        share: usize,
        now: Instant,
    ) {
        self.sticky.adopt(account, session, binding, share, now);
    }

    /// Housekeeping: drops expired sessions.
    pub(crate) fn purge(&self, now: Instant) {
        self.sticky.purge(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHARE: usize = 100;

    fn account(id: i64) -> Arc<AccountState> {
        Arc::new(AccountState::new(id))
    }

    #[test]
    fn sticky_session_keeps_exit_until_ttl() {
        let t = StickyTable::default();
        let one = account(1);
        let t0 = Instant::now();
        let ttl = Duration::from_secs(60);
        assert_eq!(t.get(1, "s", t0), None);
        t.bind(&one, "s", 7, ttl, SHARE, t0);
        assert_eq!(t.get(1, "s", t0 + Duration::from_secs(59)), Some(7));
        assert_eq!(t.get(2, "s", t0), None, "sessions are per account");
        // moving keeps the original expiry
        t.bind(&one, "s", 8, ttl, SHARE, t0 + Duration::from_secs(30));
        assert_eq!(t.get(1, "s", t0 + Duration::from_secs(59)), Some(8));
        assert_eq!(t.get(1, "s", t0 + Duration::from_secs(60)), None);
        assert_eq!(t.len(), 0);
        t.bind(&one, "s", 9, ttl, SHARE, t0 + Duration::from_secs(61));
        assert_eq!(t.get(1, "s", t0 + Duration::from_secs(120)), Some(9));
        t.purge(t0 + Duration::from_secs(121));
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn the_cluster_binding_replaces_the_node_own() {
        let t = StickyTable::default();
        let one = account(1);
        let t0 = Instant::now();
        let ttl = Duration::from_secs(60);
        t.adopt(&one, "s", Some((4, Duration::from_secs(10))), SHARE, t0);
        assert_eq!(t.get(1, "s", t0), Some(4));
        assert_eq!(t.get(1, "s", t0 + Duration::from_secs(10)), None, "its TTL");
        t.bind(&one, "s", 7, ttl, SHARE, t0);
        t.adopt(&one, "s", Some((5, ttl)), SHARE, t0);
        assert_eq!(t.get(1, "s", t0), Some(5));
        assert_eq!(one.sessions(), 1);
        t.adopt(&one, "s", None, SHARE, t0);
        assert_eq!(t.get(1, "s", t0), None, "gone from the cluster, gone here");
        assert_eq!(one.sessions(), 0);
    }

    #[test]
    fn an_account_keeps_at_most_its_share_and_others_are_unaffected() {
        let t = StickyTable::default();
        let (one, two) = (account(1), account(2));
        let t0 = Instant::now();
        let ttl = Duration::from_secs(60);
        for i in 0..3 {
            let s = format!("s{i}");
            assert_eq!(t.admit(&one, &s, 3, t0), Ok(None));
            t.bind(&one, &s, 7, ttl, 3, t0);
        }
        assert_eq!(t.admit(&one, "s3", 3, t0), Err(ShareUsed { share: 3 }));
        // a live session of the account still gets its exit, another account starts its own
        assert_eq!(t.admit(&one, "s0", 3, t0), Ok(Some(7)));
        assert_eq!(t.admit(&two, "s3", 3, t0), Ok(None));
        // binding past the share pins nothing
        t.bind(&one, "s3", 7, ttl, 3, t0);
        assert_eq!(t.len(), 3);
        // once sessions expire, the share is free again
        t.purge(t0 + ttl);
        assert_eq!(t.admit(&one, "s3", 3, t0 + ttl), Ok(None));
        assert_eq!(one.sessions(), 0);
    }
}
