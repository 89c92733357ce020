//! The clock that sticky sessions and exit breakers are timed by: tokio's, read as a
//! `std::time::Instant`, so a test can pause and advance it past a TTL or a cool-down instead
//! of sleeping. Unless a test paused it, it reads the system's monotonic clock directly.

use std::time::Instant;

/// Now, on the engine's clock.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}
