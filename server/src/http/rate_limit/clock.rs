//! The limiters' clock: the monotonic clock plus an offset that only moves forward. In
//! service it is the monotonic clock; a test moves it forward ([`LimitClock::advance`]) to
//! refill buckets instead of waiting for them.

use std::ops::Add;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock, ReasonablyRealtime};

/// One clock shared by every web limiter of a service (cheap to clone).
#[derive(Clone, Debug, Default)]
pub struct LimitClock {
    /// Nanoseconds added to the monotonic clock.
    offset: Arc<AtomicU64>,
}

impl LimitClock {
    /// Moves the clock forward by `by`: buckets refill as if that much time had passed.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.offset.fetch_add(nanos, Ordering::Relaxed);
    }
}

impl Clock for LimitClock {
    type Instant = Instant;

    fn now(&self) -> Instant {
        Instant::now().add(Duration::from_nanos(self.offset.load(Ordering::Relaxed)))
    }
}

impl ReasonablyRealtime for LimitClock {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_clone() {
        let clock = LimitClock::default();
        let copy = clock.clone();
        let before = copy.now();
        clock.advance(Duration::from_secs(60));
        assert!(copy.now().duration_since(before) >= Duration::from_secs(60));
    }
}
