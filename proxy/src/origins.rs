//! Kept-alive forward-HTTP connections to origins, shared by every client connection: a client
//! that closes after each request (or moves between origins) still reuses the gateway's
//! connection to the origin. Connections are keyed by account, destination and targeting, so a
//! reused connection is metered to the same account. Only connections whose reuse cannot change
//! the customer's exit are shared: direct egress, and requests of a sticky session. A request
//! without a session through upstream exits must rotate on a new client connection, so those
//! are never parked here.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::buffered::Buffered;
use crate::destination::Destination;
use crate::exits::{Dialed, ExitGuard};
use crate::opened::Opened;
use crate::tally::Tally;
use crate::username::Targeting;

/// Idle connections kept for one key at most.
const MAX_PER_KEY: usize = 16;

/// Which requests may use a connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PoolKey {
    pub(crate) account_id: i64,
    pub(crate) dest: Destination,
    pub(crate) targeting: Targeting,
}

impl PoolKey {
    /// Whether a request of `account_id` to `dest` with `targeting` may use the connection.
    pub(crate) fn matches(
        &self,
        account_id: i64,
        dest: &Destination,
        targeting: &Targeting,
    ) -> bool {
        self.account_id == account_id && self.dest == *dest && self.targeting == *targeting
    }
}

/// A connection to an origin (through whatever exit), with where its counts go.
pub(crate) struct Origin {
    pub(crate) stream: Buffered<TcpStream>,
    pub(crate) key: PoolKey,
    pub(crate) tally: Tally,
    exit_id: i64,
    /// Set when the connection leaves through an upstream exit.
    exit: Option<ExitGuard>,
}

impl Origin {
    pub(crate) fn new(opened: Opened, key: PoolKey) -> Self {
        let Opened {
            dialed,
            tally,
            exit_id,
            _exit,
        } = opened;
        Self {
            stream: Buffered::with_buffer(dialed.stream, dialed.leftover),
            key,
            tally,
            exit_id,
            exit: _exit,
        }
    }

    /// The connection as a tunnel end, with the bytes already read from it.
    pub(crate) fn into_opened(self) -> Opened {
        let (stream, leftover) = self.stream.into_parts();
        Opened {
            dialed: Dialed { stream, leftover },
            tally: self.tally,
            exit_id: self.exit_id,
            _exit: self.exit,
        }
    }

    /// Whether another client connection may reuse this one (see the module comment).
    fn shareable(&self) -> bool {
        self.exit.is_none() || self.key.targeting.session.is_some()
    }

    /// Still open and silent (a server that closed or sent unasked bytes is not reused).
    pub(crate) fn is_fresh(&self) -> bool {
        let mut probe = [0u8; 1];
        self.stream.buffer().is_empty()
            && matches!(
                self.stream.get_ref().try_read(&mut probe),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
            )
    }
}

struct Idle {
    since: Instant,
    origin: Origin,
}

#[derive(Default)]
struct Idles {
    by_key: HashMap<PoolKey, Vec<Idle>>,
    total: usize,
}

/// The shared pool.
pub(crate) struct OriginPool {
    idle: Mutex<Idles>,
    max_total: usize,
    max_idle: Duration,
}

impl OriginPool {
    pub(crate) fn new(max_total: usize, max_idle: Duration) -> Self {
        Self {
            idle: Mutex::new(Idles::default()),
            max_total,
            max_idle,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idles> {
        crate::locks::lock(&self.idle)
    }

    /// The most recently parked live connection for `key` (stale ones are dropped).
    pub(crate) fn take(&self, key: &PoolKey) -> Option<Origin> {
        loop {
            let idle = {
                let mut idles = self.lock();
                let Idles { by_key, total } = &mut *idles;
                let list = by_key.get_mut(key)?;
                let idle = list.pop();
                if list.is_empty() {
                    by_key.remove(key);
                }
                *total -= usize::from(idle.is_some());
                idle?
            };
            // the liveness probe is a system call: made outside the lock
            if idle.since.elapsed() < self.max_idle
                && !idle.origin.tally.session_ended()
                && idle.origin.is_fresh()
            {
                return Some(idle.origin);
            }
        }
    }

    /// Parks a connection that just finished a response cleanly.
    pub(crate) fn put(&self, origin: Origin) {
        if self.max_total == 0 || !origin.shareable() {
            return;
        }
        let mut idles = self.lock();
        let Idles { by_key, total } = &mut *idles;
        if *total >= self.max_total {
            return;
        }
        let list = by_key.entry(origin.key.clone()).or_default();
        if list.len() >= MAX_PER_KEY {
            list.remove(0);
        } else {
            *total += 1;
        }
        list.push(Idle {
            since: Instant::now(),
            origin,
        });
    }

    /// Closes connections idle for too long.
    pub(crate) fn purge(&self, now: Instant) {
        let mut idles = self.lock();
        let Idles { by_key, total } = &mut *idles;
        by_key.retain(|_, list| {
            let before = list.len();
            list.retain(|i| now.duration_since(i.since) < self.max_idle);
            *total -= before - list.len();
            !list.is_empty()
        });
    }

    /// Connections parked now.
    pub(crate) fn len(&self) -> usize {
        self.lock().total
    }
}
