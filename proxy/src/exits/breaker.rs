//! Circuit breaker of one exit: closed while it works, open for a cool-down after N
//! consecutive failures, then half-open to let exactly one probe through; the probe's outcome
//! closes or re-opens it. Time is passed in, so the logic is tested without sleeping.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Closed,
    Open {
        until: Instant,
    },
    /// One probe is in flight since `since`.
    HalfOpen {
        since: Instant,
    },
}

#[derive(Debug)]
struct State {
    phase: Phase,
    failures: u32,
}

/// The breaker.
#[derive(Debug)]
pub(crate) struct Breaker {
    state: Mutex<State>,
    threshold: u32,
    cooldown: Duration,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            state: Mutex::new(State {
                phase: Phase::Closed,
                failures: 0,
            }),
            threshold: threshold.max(1),
            cooldown,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        crate::locks::lock(&self.state)
    }

    /// Whether the exit may be listed as a candidate (closed, or due for a probe).
    pub(crate) fn available(&self, now: Instant) -> bool {
        match self.lock().phase {
            Phase::Closed => true,
            Phase::Open { until } => now >= until,
            // a probe that never reported (its request was dropped) stops blocking after a cool-down
            Phase::HalfOpen { since } => now >= since + self.cooldown,
        }
    }

    /// Claims the right to try the exit now; an open breaker past its cool-down lets this one
    /// attempt through as the probe.
    pub(crate) fn try_acquire(&self, now: Instant) -> bool {
        let mut s = self.lock();
        match s.phase {
            Phase::Closed => true,
            Phase::Open { until } if now >= until => {
                s.phase = Phase::HalfOpen { since: now };
                true
            }
            Phase::HalfOpen { since } if now >= since + self.cooldown => {
                s.phase = Phase::HalfOpen { since: now };
                true
            }
            _ => false,
        }
    }

    pub(crate) fn record_success(&self) {
        let mut s = self.lock();
        s.phase = Phase::Closed;
        s.failures = 0;
    }

    pub(crate) fn record_failure(&self, now: Instant) {
        let mut s = self.lock();
        s.failures = s.failures.saturating_add(1);
        let open = match s.phase {
            Phase::HalfOpen { .. } | Phase::Open { .. } => true,
            Phase::Closed => s.failures >= self.threshold,
        };
        if open {
            s.phase = Phase::Open {
                until: now + self.cooldown,
            };
        }
    }

    /// `closed`, `open` or `half_open`, for statistics.
    pub(crate) fn describe(&self, now: Instant) -> (&'static str, u32) {
        let s = self.lock();
        let name = match s.phase {
            Phase::Closed => "closed",
            Phase::Open { until } if now < until => "open",
            Phase::Open { .. } | Phase::HalfOpen { .. } => "half_open",
        };
        (name, s.failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_then_probes_once_and_closes_on_success() {
        let b = Breaker::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        for _ in 0..2 {
            b.record_failure(t0);
        }
        assert!(b.available(t0), "two failures keep it closed");
        b.record_failure(t0);
        assert!(!b.available(t0));
        assert!(!b.try_acquire(t0 + Duration::from_secs(9)));
        let t1 = t0 + Duration::from_secs(10);
        assert!(b.available(t1));
        assert!(b.try_acquire(t1), "the probe");
        assert!(!b.try_acquire(t1), "only one probe at a time");
        assert_eq!(b.describe(t1).0, "half_open");
        b.record_success();
        assert_eq!(b.describe(t1), ("closed", 0));
        assert!(b.try_acquire(t1));
    }

    #[test]
    fn failed_probe_reopens_for_another_cooldown() {
        let b = Breaker::new(1, Duration::from_secs(5));
        let t0 = Instant::now();
        b.record_failure(t0);
        let t1 = t0 + Duration::from_secs(5);
        assert!(b.try_acquire(t1));
        b.record_failure(t1);
        assert!(!b.available(t1 + Duration::from_secs(4)));
        assert!(b.available(t1 + Duration::from_secs(5)));
    }

    #[test]
    fn success_resets_the_count() {
        let b = Breaker::new(2, Duration::from_secs(5));
        let t0 = Instant::now();
        b.record_failure(t0);
        b.record_success();
        b.record_failure(t0);
        assert!(b.available(t0));
    }
}
