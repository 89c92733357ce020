//! Sticky sessions: (account, session id) → exit until the session's TTL runs out. The exit
//! changes only when the remembered one is unhealthy or fails; the expiry stays that of the
//! session's first use. Time is passed in.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sessions remembered at most; past this, new sessions are served but not pinned (a customer
/// inventing session ids cannot grow the table without bound).
const MAX_SESSIONS: usize = 1_000_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    exit_id: i64,
    expires: Instant,
}

/// The session table.
#[derive(Debug, Default)]
pub(crate) struct StickyTable {
    map: Mutex<HashMap<(i64, String), Entry>>,
}

impl StickyTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(i64, String), Entry>> {
        crate::locks::lock(&self.map)
    }

    /// The exit bound to the session, if the session is alive.
    pub(crate) fn get(&self, account_id: i64, session: &str, now: Instant) -> Option<i64> {
        let mut map = self.lock();
        let key = (account_id, session.to_owned());
        match map.get(&key) {
            Some(e) if now < e.expires => Some(e.exit_id),
            Some(_) => {
                map.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Binds the session to `exit_id`: a new session lives `ttl` from now, a moved one keeps
    /// its expiry.
    pub(crate) fn bind(
        &self,
        account_id: i64,
        session: &str,
        exit_id: i64,
        ttl: Duration,
        now: Instant,
    ) {
        let mut map = self.lock();
        let key = (account_id, session.to_owned());
        if map.len() >= MAX_SESSIONS && !map.contains_key(&key) {
            return;
        }
        let entry = map.entry(key).or_insert(Entry {
            exit_id,
            expires: now + ttl,
        });
        if now >= entry.expires {
            *entry = Entry {
                exit_id,
                expires: now + ttl,
            };
        } else {
            entry.exit_id = exit_id;
        }
    }

    /// Drops expired sessions.
    pub(crate) fn purge(&self, now: Instant) {
        self.lock().retain(|_, e| now < e.expires);
    }

    /// Sessions alive.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sticky_session_keeps_exit_until_ttl() {
        let t = StickyTable::default();
        let t0 = Instant::now();
        let ttl = Duration::from_secs(60);
        assert_eq!(t.get(1, "s", t0), None);
        t.bind(1, "s", 7, ttl, t0);
        assert_eq!(t.get(1, "s", t0 + Duration::from_secs(59)), Some(7));
        assert_eq!(t.get(2, "s", t0), None, "sessions are per account");
        // moving keeps the original expiry
        t.bind(1, "s", 8, ttl, t0 + Duration::from_secs(30));
        assert_eq!(t.get(1, "s", t0 + Duration::from_secs(59)), Some(8));
        assert_eq!(t.get(1, "s", t0 + Duration::from_secs(60)), None);
        assert_eq!(t.len(), 0);
        t.bind(1, "s", 9, ttl, t0 + Duration::from_secs(61));
        assert_eq!(t.get(1, "s", t0 + Duration::from_secs(120)), Some(9));
        t.purge(t0 + Duration::from_secs(121));
        assert_eq!(t.len(), 0);
    }
}
