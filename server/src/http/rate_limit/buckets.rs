//! The per-endpoint buckets: one keyed GCRA limiter per kind of request (and per plan tier
//! for signed-in API calls), and what one check of a bucket says.

use std::sync::Arc;
use std::time::{Duration, Instant};

use governor::RateLimiter;
use governor::clock::Clock;
use governor::middleware::{NoOpMiddleware, StateInformationMiddleware, StateSnapshot};
use governor::state::keyed::DefaultKeyedStateStore;

use super::clock::LimitClock;
use super::per_minute;
use crate::http::client_ip::SourceKey;

pub(super) type Keyed<K> =
    RateLimiter<K, DefaultKeyedStateStore<K>, LimitClock, StateInformationMiddleware>;

/// Sign-in and registration attempts per minute per IP.
pub const SIGN_IN_PER_MINUTE: u32 = 5;
/// Server-function calls per minute per IP.
pub const API_PER_MINUTE: u32 = 100;
/// Webhook deliveries per minute per IP.
pub const WEBHOOK_PER_MINUTE: u32 = 10;
/// State-changing requests per minute per source (several people may share an address).
pub const WRITES_PER_MINUTE: u32 = 60;
/// State-changing requests per minute per signed-in account.
pub const ACCOUNT_WRITES_PER_MINUTE: u32 = 30;
/// Costly reads (CSV export, Paystack callback) per minute, per source and per account.
pub const COSTLY_PER_MINUTE: u32 = 10;

/// A signed-in account's API budget, from its plan's gateway rate: ten calls a minute for
/// each request a second the plan allows, between 100 and 1,000 a minute (no plan: 60).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// No live plan: 60 a minute.
    NoPlan,
    /// Starter-sized plans: 100 a minute.
    Small,
    /// Personal-sized plans: 500 a minute.
    Medium,
    /// Team and larger: 1,000 a minute.
    Large,
}

impl Tier {
    const ALL: [Tier; 4] = [Tier::NoPlan, Tier::Small, Tier::Medium, Tier::Large];

    /// The tier of a plan allowing `requests_per_second` through the gateway.
    pub fn of_plan(requests_per_second: Option<i64>) -> Tier {
        match requests_per_second {
            None => Tier::NoPlan,
            Some(rps) if rps * 10 <= 100 => Tier::Small,
            Some(rps) if rps * 10 <= 500 => Tier::Medium,
            Some(_) => Tier::Large,
        }
    }

    /// Calls a minute.
    pub fn per_minute(self) -> u32 {
        match self {
            Tier::NoPlan => 60,
            Tier::Small => 100,
            Tier::Medium => 500,
            Tier::Large => 1_000,
        }
    }
}

/// The limiters, shared by all requests.
#[derive(Clone)]
pub struct EndpointLimits {
    /// Keyed by the sign-in route and the source: each step its own budget.
    pub(super) sign_in: Arc<Keyed<(Arc<str>, SourceKey)>>,
    pub(super) api: Arc<Keyed<SourceKey>>,
    pub(super) webhook: Arc<Keyed<SourceKey>>,
    pub(super) accounts: Arc<[Keyed<i64>; 4]>,
    pub(super) writes: Arc<Keyed<SourceKey>>,
    pub(super) account_writes: Arc<Keyed<i64>>,
    pub(super) costly: Arc<Keyed<SourceKey>>,
    pub(super) account_costly: Arc<Keyed<i64>>,
    /// The public REST API (`/api/v1`): per account, by plan, apart from the dashboard's.
    pub(super) public_api: Arc<[Keyed<i64>; 4]>,
}

pub(super) fn keyed<K: std::hash::Hash + Eq + Clone>(n: u32, clock: &LimitClock) -> Keyed<K> {
    RateLimiter::<K, _, _, NoOpMiddleware<Instant>>::new(
        per_minute(n),
        DefaultKeyedStateStore::default(),
        clock.clone(),
    )
    .with_middleware::<StateInformationMiddleware>()
}

impl EndpointLimits {
    /// Every bucket, full, on `clock`.
    pub fn new(clock: &LimitClock) -> EndpointLimits {
        EndpointLimits {
            sign_in: Arc::new(keyed(SIGN_IN_PER_MINUTE, clock)),
            api: Arc::new(keyed(API_PER_MINUTE, clock)),
            webhook: Arc::new(keyed(WEBHOOK_PER_MINUTE, clock)),
            accounts: Arc::new(Tier::ALL.map(|t| keyed(t.per_minute(), clock))),
            writes: Arc::new(keyed(WRITES_PER_MINUTE, clock)),
            account_writes: Arc::new(keyed(ACCOUNT_WRITES_PER_MINUTE, clock)),
            costly: Arc::new(keyed(COSTLY_PER_MINUTE, clock)),
            account_costly: Arc::new(keyed(COSTLY_PER_MINUTE, clock)),
            public_api: Arc::new(Tier::ALL.map(|t| keyed(t.per_minute(), clock))),
        }
    }

    /// Forgets keys whose buckets are full again, so memory stays bounded (called
    /// periodically).
    pub fn forget_idle(&self) {
        self.sign_in.retain_recent();
        self.sign_in.shrink_to_fit();
        for limiter in [&self.api, &self.webhook, &self.writes, &self.costly] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        for limiter in self
            .accounts
            .iter()
            .chain(self.public_api.iter())
            .chain([&*self.account_writes, &*self.account_costly])
        {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// The outcome of one bucket: allowed with a snapshot, or refused with a wait.
pub(super) enum Outcome {
    Allowed {
        limit: u32,
        remaining: u32,
        reset: Duration,
    },
    Refused {
        limit: u32,
        wait: Duration,
    },
}

pub(super) fn check<K: std::hash::Hash + Eq + Clone>(limiter: &Keyed<K>, key: &K) -> Outcome {
    match limiter.check_key(key) {
        Ok(snapshot) => allowed(&snapshot),
        Err(denied) => Outcome::Refused {
            limit: denied.quota().burst_size().get(),
            wait: denied.wait_time_from(limiter.clock().now()),
        },
    }
}

fn allowed(snapshot: &StateSnapshot) -> Outcome {
    let quota = snapshot.quota();
    let limit = quota.burst_size().get();
    let remaining = snapshot.remaining_burst_capacity();
    Outcome::Allowed {
        limit,
        remaining,
        reset: quota.replenish_interval() * (limit - remaining.min(limit)),
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    #[test]
    fn plans_map_to_tiers() {
        assert_eq!(Tier::of_plan(None), Tier::NoPlan);
        assert_eq!(Tier::of_plan(Some(10)), Tier::Small); // Starter
        assert_eq!(Tier::of_plan(Some(50)), Tier::Medium); // Personal
        assert_eq!(Tier::of_plan(Some(500)), Tier::Large); // Team
        assert_eq!(Tier::of_plan(Some(10_000)), Tier::Large); // Enterprise
    }

    #[test]
    fn a_bucket_counts_down_then_refuses_with_the_wait() {
        let limiter: Keyed<IpAddr> = keyed(3, &LimitClock::default());
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        let remaining: Vec<u32> = (0..3)
            .map(|_| match check(&limiter, &ip) {
                Outcome::Allowed {
                    remaining, limit, ..
                } => {
                    assert_eq!(limit, 3);
                    remaining
                }
                Outcome::Refused { .. } => panic!("refused too early"),
            })
            .collect();
        assert_eq!(remaining, [2, 1, 0]);
        match check(&limiter, &ip) {
            Outcome::Refused { limit, wait } => {
                assert_eq!(limit, 3);
                assert!(
                    wait > Duration::ZERO && wait <= Duration::from_secs(20),
                    "{wait:?}"
                );
            }
            Outcome::Allowed { .. } => panic!("a fourth call in a minute was allowed"),
        }
        let other: IpAddr = "192.0.2.2".parse().expect("ip");
        assert!(matches!(check(&limiter, &other), Outcome::Allowed { .. }));
    }

    #[test]
    fn an_ipv6_64_is_one_bucket() {
        let limits = EndpointLimits::new(&LimitClock::default());
        let key = |ip: &str| SourceKey::of(ip.parse::<IpAddr>().expect("ip"));
        for n in 0..SIGN_IN_PER_MINUTE {
            let ip = format!("2001:db8:5:5::{:x}", n + 1);
            let outcome = check(&limits.sign_in, &(Arc::from("/login"), key(&ip)));
            assert!(matches!(outcome, Outcome::Allowed { .. }), "attempt {n}");
        }
        let same_64 = (Arc::from("/login"), key("2001:db8:5:5:1:2:3:4"));
        assert!(matches!(
            check(&limits.sign_in, &same_64),
            Outcome::Refused { .. }
        ));
        let mapped = key("::ffff:192.0.2.44");
        assert_eq!(mapped, key("192.0.2.44"));
    }
}
