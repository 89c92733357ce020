//! Attempt budgets against guessing: at most 5 attempts a minute per source (an IPv4 address
//! or an IPv6 /64, see [`SourceKey`]) and per account email (or account), each endpoint with
//! its own [`AttemptLimiter`]. Keys are forgotten once their budget has refilled, so memory
//! stays bounded.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use governor::RateLimiter;
use governor::clock::Clock;
use governor::state::keyed::DefaultKeyedStateStore;

use super::clock::LimitClock;
use super::per_minute;
use crate::http::client_ip::SourceKey;

/// Attempts allowed per minute, per IP and per account.
pub const ATTEMPTS_PER_MINUTE: u32 = 5;

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, LimitClock>;

fn keyed<K: std::hash::Hash + Eq + Clone>(clock: &LimitClock) -> Keyed<K> {
    RateLimiter::new(
        per_minute(ATTEMPTS_PER_MINUTE),
        DefaultKeyedStateStore::default(),
        clock.clone(),
    )
}

/// Two keyed limiters: by source IP and by (lower-cased) email.
#[derive(Clone)]
pub struct AttemptLimiter {
    by_ip: Arc<Keyed<SourceKey>>,
    by_email: Arc<Keyed<String>>,
}

impl AttemptLimiter {
    /// Full budgets on `clock`.
    pub fn new(clock: &LimitClock) -> AttemptLimiter {
        AttemptLimiter {
            by_ip: Arc::new(keyed(clock)),
            by_email: Arc::new(keyed(clock)),
        }
    }

    /// Takes one attempt for `ip` and `email`; `Err(wait)` when either is over its budget.
    pub fn check(&self, ip: IpAddr, email: &str) -> Result<(), Duration> {
        let ip_check = self.by_ip.check_key(&SourceKey::of(ip));
        let email_check = self.by_email.check_key(&email.trim().to_lowercase());
        match (ip_check, email_check) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(denied), _) | (_, Err(denied)) => {
                Err(denied.wait_time_from(self.by_ip.clock().now()))
            }
        }
    }

    /// Forgets keys whose budget is full again (called periodically).
    pub fn forget_idle(&self) {
        self.by_ip.retain_recent();
        self.by_email.retain_recent();
        self.by_ip.shrink_to_fit();
        self.by_email.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_attempt_in_a_minute_is_refused_per_ip_and_per_email() {
        let limiter = AttemptLimiter::new(&LimitClock::default());
        let ip: IpAddr = "203.0.113.7".parse().expect("ip");
        for n in 0..ATTEMPTS_PER_MINUTE {
            assert!(limiter.check(ip, &format!("user{n}@example.com")).is_ok());
        }
        let wait = limiter
            .check(ip, "another@example.com")
            .expect_err("ip over budget");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(60),
            "{wait:?}"
        );

        // The same email from many addresses is limited too (distributed guessing).
        for n in 0..ATTEMPTS_PER_MINUTE {
            let ip: IpAddr = format!("198.51.100.{n}").parse().expect("ip");
            assert!(limiter.check(ip, "Victim@Example.com").is_ok());
        }
        let fresh: IpAddr = "198.51.100.200".parse().expect("ip");
        assert!(
            limiter.check(fresh, "victim@example.com").is_err(),
            "email over budget"
        );
    }

    #[test]
    fn addresses_in_one_ipv6_64_share_a_budget() {
        let limiter = AttemptLimiter::new(&LimitClock::default());
        for n in 0..ATTEMPTS_PER_MINUTE {
            let ip: IpAddr = format!("2001:db8:7:7::{:x}", n + 1).parse().expect("ip");
            assert!(limiter.check(ip, &format!("user{n}@example.com")).is_ok());
        }
        let same_64: IpAddr = "2001:db8:7:7:dead:beef:0:1".parse().expect("ip");
        assert!(
            limiter.check(same_64, "fresh@example.com").is_err(),
            "another address of the same /64"
        );
        let next_64: IpAddr = "2001:db8:7:8::1".parse().expect("ip");
        assert!(limiter.check(next_64, "fresh2@example.com").is_ok());
    }
}
