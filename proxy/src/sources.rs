//! Fairness between the addresses clients connect from. Connections are counted per source: an
//! IPv4 address, or the /64 an IPv6 address belongs to (one subscriber's usual allocation, so
//! rotating through it gains nothing). A connection that has not authenticated yet holds a slot
//! of a much smaller budget, per source and for the whole gateway; when that budget is full,
//! the oldest pending connection of the source holding the most is shed, so a few sources
//! holding idle sockets cannot keep everybody else out, and the listener never stops accepting
//! because of them.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use crate::locks::lock;

/// The unit connections are counted by: the IPv4 address (IPv4-mapped IPv6 included), or the
/// IPv6 /64.
pub(crate) fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Concurrent connections per source.
#[derive(Debug)]
pub(crate) struct SourceLimits {
    cap: u32,
    open: Mutex<HashMap<IpAddr, u32>>,
}

impl SourceLimits {
    pub(crate) fn new(cap: u32) -> Self {
        Self {
            cap,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// A slot for the source of `ip`, or `None` when it has `cap` connections open already.
    pub(crate) fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<SourcePermit> {
        let key = source_key(ip);
        let mut open = lock(&self.open);
        let n = open.entry(key).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(SourcePermit {
            limits: self.clone(),
            key,
        })
    }
}

/// One open connection from a source.
#[derive(Debug)]
pub(crate) struct SourcePermit {
    limits: Arc<SourceLimits>,
    key: IpAddr,
}

impl Drop for SourcePermit {
    fn drop(&mut self) {
        let mut open = lock(&self.limits.open);
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[derive(Debug, Default)]
struct Waiting {
    next_id: u64,
    total: usize,
    /// Per source, its pending connections oldest first: (id, shed token).
    by_source: HashMap<IpAddr, VecDeque<(u64, CancellationToken)>>,
    /// (pending count, source) for every source in `by_source`: the largest holder is found
    /// in O(log n) even with many sources.
    by_count: BTreeSet<(usize, IpAddr)>,
}

impl Waiting {
    fn count(&self, key: IpAddr) -> usize {
        self.by_source.get(&key).map_or(0, VecDeque::len)
    }

    /// Re-files `key` after its queue changed from `before` entries.
    fn refile(&mut self, key: IpAddr, before: usize) {
        self.by_count.remove(&(before, key));
        let now = self.count(key);
        if now == 0 {
            self.by_source.remove(&key);
        } else {
            self.by_count.insert((now, key));
        }
    }
}

/// Connections accepted but not authenticated yet.
#[derive(Debug)]
pub(crate) struct Unauthenticated {
    per_source: usize,
    budget: usize,
    waiting: Mutex<Waiting>,
}

impl Unauthenticated {
    pub(crate) fn new(per_source: usize, budget: usize) -> Self {
        Self {
            per_source: per_source.max(1),
            budget: budget.max(1),
            waiting: Mutex::new(Waiting::default()),
        }
    }

    /// Registers a new connection from `ip` as pending. `None` when its source already has
    /// `per_source` pending (the newcomer is the offender: close it). At the budget, the oldest
    /// pending connection of the source with the most is told to go first.
    pub(crate) fn enter(self: &Arc<Self>, ip: IpAddr) -> Option<Pending> {
        let key = source_key(ip);
        let mut w = lock(&self.waiting);
        let before = w.count(key);
        if before >= self.per_source {
            return None;
        }
        if w.total >= self.budget
            && let Some(&(_, largest)) = w.by_count.last()
        {
            shed_oldest(&mut w, largest);
        }
        let before = w.count(key);
        let id = w.next_id;
        w.next_id += 1;
        w.total += 1;
        let shed = CancellationToken::new();
        w.by_source
            .entry(key)
            .or_default()
            .push_back((id, shed.clone()));
        w.refile(key, before);
        Some(Pending {
            registry: self.clone(),
            key,
            id,
            shed,
        })
    }

    #[cfg(test)]
    fn total(&self) -> usize {
        lock(&self.waiting).total
    }
}

fn shed_oldest(w: &mut Waiting, key: IpAddr) {
    let before = w.count(key);
    if let Some((_, token)) = w.by_source.get_mut(&key).and_then(VecDeque::pop_front) {
        token.cancel();
        w.total -= 1;
    }
    w.refile(key, before);
}

/// A connection that has not authenticated yet; dropping it (on authentication, or when the
/// connection ends) frees its place.
#[derive(Debug)]
pub(crate) struct Pending {
    registry: Arc<Unauthenticated>,
    key: IpAddr,
    id: u64,
    shed: CancellationToken,
}

impl Pending {
    /// Cancelled when the connection is shed to make room: it must close at once.
    pub(crate) fn shed(&self) -> &CancellationToken {
        &self.shed
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let mut w = lock(&self.registry.waiting);
        let before = w.count(self.key);
        let Some(queue) = w.by_source.get_mut(&self.key) else {
            return;
        };
        // a shed connection was taken out already
        if let Some(pos) = queue.iter().position(|(id, _)| *id == self.id) {
            queue.remove(pos);
            w.total -= 1;
            w.refile(self.key, before);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect(s)
    }

    #[test]
    fn ipv6_sources_count_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(source_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            source_key(ip("2001:db8:1:2:ffff::9")),
            source_key(ip("2001:db8:1:2::1"))
        );
        assert_ne!(
            source_key(ip("2001:db8:1:3::1")),
            source_key(ip("2001:db8:1:2::1"))
        );
        assert_eq!(source_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(source_key(ip("192.0.2.7")), ip("192.0.2.7"));
    }

    #[test]
    fn source_cap_counts_per_source() {
        let l = Arc::new(SourceLimits::new(1));
        let p = l.acquire(ip("127.0.0.1")).expect("first");
        assert!(l.acquire(ip("127.0.0.1")).is_none());
        assert!(l.acquire(ip("127.0.0.2")).is_some());
        drop(p);
        assert!(l.acquire(ip("127.0.0.1")).is_some());
        let v6 = l.acquire(ip("2001:db8::1")).expect("v6");
        assert!(l.acquire(ip("2001:db8::2")).is_none(), "same /64");
        drop(v6);
    }

    #[test]
    fn a_source_past_its_pending_share_is_refused_and_others_still_enter() {
        let u = Arc::new(Unauthenticated::new(2, 100));
        let _a = u.enter(ip("2001:db8::1")).expect("1");
        let _b = u.enter(ip("2001:db8::2")).expect("2");
        assert!(
            u.enter(ip("2001:db8::3")).is_none(),
            "third of the same /64"
        );
        assert!(u.enter(ip("192.0.2.1")).is_some());
    }

    #[test]
    fn at_the_budget_the_largest_holder_is_shed_first() {
        let u = Arc::new(Unauthenticated::new(10, 4));
        let hog: Vec<Pending> = (0..3)
            .map(|_| u.enter(ip("192.0.2.1")).expect("hog"))
            .collect();
        let other = u.enter(ip("192.0.2.2")).expect("other");
        assert_eq!(u.total(), 4);
        let newcomer = u.enter(ip("198.51.100.1")).expect("newcomer");
        assert!(
            hog[0].shed().is_cancelled(),
            "oldest of the largest source goes"
        );
        assert!(!hog[1].shed().is_cancelled() && !other.shed().is_cancelled());
        assert!(!newcomer.shed().is_cancelled());
        assert_eq!(u.total(), 4);
        drop(hog);
        assert_eq!(u.total(), 2);
        drop((other, newcomer));
        assert_eq!(u.total(), 0);
        let w = lock(&u.waiting);
        assert!(w.by_source.is_empty() && w.by_count.is_empty());
    }
}
