//! Sticky sessions: (account, session id) → exit until the session's TTL runs out. The exit
//! changes only when the remembered one is unhealthy or fails; the expiry stays that of the
//! session's first use. Each account may keep a share of the table proportional to its plan,
//! so one customer inventing session ids cannot fill it for everybody; how many it keeps is
//! counted on its [`AccountState`], which every entry holds. Each entry also holds the
//! session's [`SessionLive`] (its open connections and bytes, for the session inspector).
//! Ending a session closes its tunnels, and its next request is steered away from the exit it
//! left (a customer ends a session to get a new address). Time is passed in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Exits, Route};
use crate::account_state::AccountState;
use crate::sessions::{SessionLive, SessionStats};
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
    live: Arc<SessionLive>,
}

/// How long an ended session's next request avoids the exit the session left.
const AVOID_FOR: Duration = Duration::from_secs(600);

#[derive(Debug, Default)]
struct Table {
    map: HashMap<(i64, String), Entry>,
    /// Ended sessions: the exit each left, to be avoided by its next request until the instant.
    left: HashMap<(i64, String), (i64, Instant)>,
}

impl Table {
    /// Pins a new session of `account` until `expires`, unless the table or the account's
    /// `share` is full (the session is then served unpinned).
    fn pin(
        &mut self,
        key: (i64, String),
        account: &Arc<AccountState>,
        exit_id: i64,
        (now, expires): (Instant, Instant),
        share: usize,
    ) -> Option<Arc<SessionLive>> {
        if self.map.len() >= MAX_SESSIONS || account.sessions() >= share {
            return None;
        }
        account.session_pinned();
        self.left.remove(&key);
        let live = Arc::new(SessionLive::new(account, now));
        self.map.insert(
            key,
            Entry {
                exit_id,
                expires,
                owner: account.clone(),
                live: live.clone(),
            },
        );
        Some(live)
    }

    fn remove(&mut self, key: &(i64, String)) -> Option<Entry> {
        let entry = self.map.remove(key)?;
        entry.owner.session_unpinned();
        Some(entry)
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
    /// unpinned. The session's live side, for the connection just opened (`None`: unpinned).
    pub(crate) fn bind(
        &self,
        account: &Arc<AccountState>,
        session: &str,
        exit_id: i64,
        ttl: Duration,
        share: usize,
        now: Instant,
    ) -> Option<Arc<SessionLive>> {
        let mut table = self.lock();
        let key = (account.id, session.to_owned());
        match table.map.get_mut(&key) {
            Some(entry) => {
                if now >= entry.expires {
                    // the old session ran out: this is a new one
                    entry.expires = now + ttl;
                    entry.live = Arc::new(SessionLive::new(account, now));
                }
                entry.exit_id = exit_id;
                Some(entry.live.clone())
            }
            None => table.pin(key, account, exit_id, (now, now + ttl), share),
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
            None => {
                table.pin(key, account, exit_id, (now, now + ttl), share);
            }
        }
    }

    /// Ends a session: drops its binding and closes its connections; its next request avoids
    /// the exit it left. Whether it was alive.
    pub(crate) fn end(&self, account_id: i64, session: &str, now: Instant) -> bool {
        let key = (account_id, session.to_owned());
        let mut table = self.lock();
        let Some(entry) = table.remove(&key) else {
            return false;
        };
        entry.live.end();
        if table.left.len() < MAX_SESSIONS {
            table.left.insert(key, (entry.exit_id, now + AVOID_FOR));
        }
        now < entry.expires
    }

    /// The exit an ended session left, which its next request should avoid.
    pub(crate) fn avoided(&self, account_id: i64, session: &str, now: Instant) -> Option<i64> {
        let table = self.lock();
        table
            .left
            .get(&(account_id, session.to_owned()))
            .filter(|(_, until)| now < *until)
            .map(|(exit, _)| *exit)
    }

    /// The sessions alive, with their figures (`now_ms` is `now` as epoch ms).
    pub(crate) fn list(&self, now: Instant, now_ms: i64) -> Vec<SessionStats> {
        let table = self.lock();
        table
            .map
            .iter()
            .filter(|(_, e)| now < e.expires)
            .map(|((account_id, session), e)| {
                let (bytes_up, bytes_down) = e.live.bytes();
                let left = e.expires.saturating_duration_since(now);
                let age = now.saturating_duration_since(e.live.started);
                let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2);
                SessionStats {
                    account_id: *account_id,
                    session: session.clone(),
                    exit_id: e.exit_id,
                    started_at_ms: now_ms - ms(age),
                    expires_at_ms: now_ms + ms(left),
                    open_connections: e.live.open_connections(),
                    bytes_up,
                    bytes_down,
                }
            })
            .collect()
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
        table.left.retain(|_, (_, until)| now < *until);
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
    /// The session's live side, for the connection (`None` without a session, or unpinned).
    pub(super) fn served(
        &self,
        route: &Route,
        t: &Targeting,
        account: &Arc<AccountState>,
        session_share: usize,
        now: Instant,
    ) -> Option<Arc<SessionLive>> {
        let session = t.session.as_ref()?;
        let ttl = self.session_ttl(t);
        self.sticky
            .bind(account, session, route.id(), ttl, session_share, now)
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

    /// Ends a session on this gateway: the next request with its id picks an exit anew (another
    /// one, when there is another), and its open connections close. Whether it was alive here.
    pub(crate) fn end_session(&self, account_id: i64, session: &str, now: Instant) -> bool {
        self.sticky.end(account_id, session, now)
    }

    /// The sessions alive on this gateway, as many as a snapshot lists.
    pub(crate) fn sessions(&self, now: Instant, now_ms: i64) -> Vec<SessionStats> {
        crate::sessions::listed(self.sticky.list(now, now_ms))
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

    #[test]
    fn an_ended_session_is_unbound_and_avoids_the_exit_it_left() {
        let t = StickyTable::default();
        let one = account(1);
        let t0 = Instant::now();
        let ttl = Duration::from_secs(60);
        let live = t.bind(&one, "s", 7, ttl, SHARE, t0).expect("pinned");
        let cut = live.cut_token(&one);
        assert!(t.end(1, "s", t0));
        assert!(cut.is_cancelled(), "its connections close");
        assert_eq!(t.get(1, "s", t0), None);
        assert_eq!(one.sessions(), 0);
        assert_eq!(t.avoided(1, "s", t0), Some(7));
        assert_eq!(t.avoided(2, "s", t0), None, "per account");
        assert!(!t.end(1, "s", t0), "ending it again finds nothing");
        // the next binding forgets what it left
        t.bind(&one, "s", 8, ttl, SHARE, t0);
        assert_eq!(t.avoided(1, "s", t0), None);
        assert!(t.end(1, "s", t0));
        t.purge(t0 + AVOID_FOR);
        assert_eq!(t.avoided(1, "s", t0 + AVOID_FOR), None, "not for ever");
    }

    #[test]
    fn the_listing_shows_each_session_with_its_exit_age_and_time_left() {
        let t = StickyTable::default();
        let one = account(1);
        let t0 = Instant::now();
        let live = t
            .bind(&one, "s", 7, Duration::from_secs(60), SHARE, t0)
            .expect("pinned");
        let _open = crate::sessions::SessionGuard::new(live.clone());
        live.add_up(10);
        live.add_down(20);
        let listed = t.list(t0 + Duration::from_secs(15), 100_000);
        assert_eq!(listed.len(), 1);
        let s = &listed[0];
        assert_eq!((s.account_id, s.session.as_str(), s.exit_id), (1, "s", 7));
        assert_eq!((s.started_at_ms, s.expires_at_ms), (85_000, 145_000));
        assert_eq!((s.open_connections, s.bytes_up, s.bytes_down), (1, 10, 20));
        assert!(
            t.list(t0 + Duration::from_secs(60), 0).is_empty(),
            "expired"
        );
    }
}
