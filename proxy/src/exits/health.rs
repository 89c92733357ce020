//! Exit health: the outcome of the latest attempt through each exit, and the active probes.
//! A probe goes through the exit's full handshake (HTTP `CONNECT` or SOCKS5, with the exit's
//! credentials) to the configured probe target, so an upstream that accepts TCP connections but
//! refuses our credentials or cannot open tunnels is found out before a customer is sent to it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use super::{DialError, Exits, Route, dial};
use crate::clock;
use crate::destination::Destination;
use crate::locks::lock;

const NONE: u8 = 0;
const PASSED: u8 = 1;
const FAILED: u8 = 2;

/// The outcome of the latest attempt through an exit, a probe or a customer's connection.
#[derive(Debug, Default)]
pub(crate) struct LastCheck {
    outcome: AtomicU8,
    error: Mutex<Option<String>>,
}

impl LastCheck {
    pub(crate) fn passed(&self) {
        // every relayed connection lands here: skip the store when nothing changes
        if self.outcome.load(Ordering::Relaxed) != PASSED {
            self.outcome.store(PASSED, Ordering::Relaxed);
        }
    }

    pub(crate) fn failed(&self, why: &str) {
        *lock(&self.error) = Some(why.to_owned());
        self.outcome.store(FAILED, Ordering::Relaxed);
    }

    /// Whether the latest attempt passed (`None`: no attempt yet), and the latest failure.
    pub(crate) fn get(&self) -> (Option<bool>, Option<String>) {
        let passed = match self.outcome.load(Ordering::Relaxed) {
            NONE => None,
            o => Some(o == PASSED),
        };
        (passed, lock(&self.error).clone())
    }
}

/// Which exits a probe round covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Round {
    /// Every enabled exit.
    All,
    /// Enabled exits nothing went through yet (just added).
    Unchecked,
    /// One exit, now (an operator's "test" button), enabled or not.
    One(i64),
}

impl Exits {
    /// Probes enabled exits concurrently; outcomes feed the breakers, latencies and last checks
    /// like customers' connections do.
    pub(crate) async fn probe(&self, target: &Destination, timeout: Duration, round: Round) {
        let set = self.current();
        let due = set.iter().filter(|e| match round {
            Round::All => e.entry.enabled,
            Round::Unchecked => e.entry.enabled && e.last.get().0.is_none(),
            Round::One(id) => e.entry.id == id,
        });
        let probes = due.map(|e| async move {
            let route = Route::Via(e.clone());
            let started = Instant::now();
            let failure = match dial(&route, target, &[], timeout).await {
                // the exit did its part even when the target is unreachable from it
                Ok(_) | Err(DialError::Destination { .. }) => None,
                Err(DialError::Exit(detail)) => Some(detail),
                Err(DialError::Timeout { exit_reached }) => Some(format!(
                    "exit {}: no {} within {} ms",
                    e.entry.id,
                    if exit_reached {
                        "answer to the handshake"
                    } else {
                        "connection"
                    },
                    timeout.as_millis()
                )),
            };
            match failure {
                None => self.upstream_ok(&route, started.elapsed()),
                Some(why) => {
                    tracing::debug!(exit_id = e.entry.id, %why, "health probe failed");
                    self.upstream_failed(&route, clock::now(), &why);
                }
            }
        });
        futures::future::join_all(probes).await;
    }
}
