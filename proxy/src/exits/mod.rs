//! Exits: direct egress and upstream proxies. Holds the current exit set (rebuilt on each
//! directory refresh, keeping the run-time state of unchanged exits), filters it by the
//! request's targeting and health, orders it by the configured strategy with the sticky
//! session's exit first, and learns from every attempt (breaker, latency, stickiness).

mod attempt;
mod breaker;
mod dial;
mod health;
mod sticky;
mod strategy;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub(crate) use attempt::Connected;
use dial::dial;
pub(crate) use dial::{DialError, Dialed};
pub(crate) use health::Round;

use self::breaker::Breaker;
use self::health::LastCheck;
pub(crate) use self::sticky::SESSIONS_PER_CONNECTION;
use self::sticky::StickyTable;
use crate::account_state::AccountState;
use crate::config::{DirectEgress, GatewayConfig, Strategy};
use crate::directory::{ExitEntry, ExitKind};
use crate::error::{ErrorCode, ProxyError};
use crate::locks::{read, write};
use crate::stats::ExitStats;
use crate::username::Targeting;

/// Where an upstream proxy listens, and how we log in to it. `Debug` leaves out the password.
#[derive(Clone)]
pub(crate) struct UpstreamAddr {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) credentials: Option<(String, String)>,
}

impl std::fmt::Debug for UpstreamAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamAddr")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .finish_non_exhaustive()
    }
}

impl UpstreamAddr {
    fn from_url(url: &url::Url, kind: ExitKind) -> Option<UpstreamAddr> {
        let scheme_ok = match kind {
            ExitKind::Http => url.scheme() == "http",
            ExitKind::Socks5 => matches!(url.scheme(), "socks5" | "socks5h"),
        };
        let host = url
            .host_str()?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url.port_or_known_default().or(match kind {
            ExitKind::Socks5 => Some(1080),
            ExitKind::Http => None,
        })?;
        let credentials = (!url.username().is_empty()).then(|| {
            (
                percent_decode(url.username()),
                percent_decode(url.password().unwrap_or_default()),
            )
        });
        scheme_ok.then_some(UpstreamAddr {
            host,
            port,
            credentials,
        })
    }

    pub(crate) fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }
}

/// Decodes `%XX` escapes (URL userinfo).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One upstream exit and what the gateway has learned about it.
#[derive(Debug)]
pub(crate) struct Exit {
    pub(crate) entry: ExitEntry,
    pub(crate) upstream: UpstreamAddr,
    pub(crate) breaker: Breaker,
    active: AtomicU32,
    latency_us: AtomicU64,
    successes: AtomicU64,
    failures: AtomicU64,
    last: LastCheck,
}

/// Counts one relayed connection through an exit while alive.
#[derive(Debug)]
pub(crate) struct ExitGuard(Arc<Exit>);

impl Drop for ExitGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Exit {
    fn new(entry: ExitEntry, upstream: UpstreamAddr, config: &GatewayConfig) -> Self {
        Self {
            entry,
            upstream,
            breaker: Breaker::new(config.breaker_failures, config.breaker_cooldown),
            active: AtomicU32::new(0),
            latency_us: AtomicU64::new(0),
            successes: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            last: LastCheck::default(),
        }
    }

    pub(crate) fn active(&self) -> u32 {
        self.active.load(Ordering::Relaxed)
    }

    /// Recent connect latency (EWMA); 0 when never measured.
    pub(crate) fn latency_micros(&self) -> u64 {
        self.latency_us.load(Ordering::Relaxed)
    }

    pub(crate) fn observe_latency(&self, d: Duration) {
        let sample = (d.as_micros() as u64).max(1);
        let old = self.latency_us.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            (old * 7 + sample) / 8
        };
        self.latency_us.store(new.max(1), Ordering::Relaxed);
    }

    /// Marks one connection as relayed through this exit until the guard drops.
    pub(crate) fn track(self: &Arc<Self>) -> ExitGuard {
        self.active.fetch_add(1, Ordering::Relaxed);
        ExitGuard(self.clone())
    }

    fn matches(&self, t: &Targeting) -> bool {
        let eq = |want: &Option<String>, have: &Option<String>| match want {
            None => true,
            Some(w) => have.as_deref().is_some_and(|h| {
                h.eq_ignore_ascii_case(w) || h.replace(' ', "_").eq_ignore_ascii_case(w)
            }),
        };
        self.entry.enabled && eq(&t.country, &self.entry.country) && eq(&t.city, &self.entry.city)
    }
}

/// One way out for a request.
#[derive(Debug, Clone)]
pub(crate) enum Route {
    /// From the gateway's own address.
    Direct,
    /// Through an upstream proxy.
    Via(Arc<Exit>),
}

impl Route {
    /// Exit id for usage records (0 for direct).
    pub(crate) fn id(&self) -> i64 {
        match self {
            Route::Direct => 0,
            Route::Via(e) => e.entry.id,
        }
    }

    /// Whether the route is given the destination's name rather than a checked address.
    pub(crate) fn forwards_names(&self) -> bool {
        match self {
            Route::Direct => false,
            Route::Via(e) => e.entry.forward_names,
        }
    }
}

/// The current exits and everything learned about them.
#[derive(Debug)]
pub(crate) struct Exits {
    strategy: Strategy,
    direct_egress: DirectEgress,
    direct_country: Option<String>,
    max_attempts: usize,
    session_ttl: Duration,
    config: GatewayConfig,
    set: RwLock<Arc<Vec<Arc<Exit>>>>,
    sticky: StickyTable,
    turn: AtomicUsize,
}

impl Exits {
    pub(crate) fn new(config: &GatewayConfig) -> Self {
        Self {
            strategy: config.strategy,
            direct_egress: config.direct_egress,
            direct_country: config.direct_country.clone(),
            max_attempts: config.max_attempts.max(1),
            session_ttl: config.session_ttl,
            config: config.clone(),
            set: RwLock::new(Arc::new(Vec::new())),
            sticky: StickyTable::default(),
            turn: AtomicUsize::new(0),
        }
    }

    fn current(&self) -> Arc<Vec<Arc<Exit>>> {
        read(&self.set).clone()
    }

    /// Replaces the exit set; exits whose entry did not change keep their state. Returns
    /// whether an exit is new (or changed), so it can be probed without waiting.
    pub(crate) fn install(&self, entries: Vec<ExitEntry>) -> bool {
        let old: HashMap<i64, Arc<Exit>> = self
            .current()
            .iter()
            .map(|e| (e.entry.id, e.clone()))
            .collect();
        let mut next = Vec::with_capacity(entries.len());
        let mut fresh = false;
        for entry in entries {
            if let Some(e) = old.get(&entry.id).filter(|e| e.entry == entry) {
                next.push(e.clone());
                continue;
            }
            match UpstreamAddr::from_url(&entry.url, entry.kind) {
                Some(up) => {
                    fresh |= entry.enabled;
                    next.push(Arc::new(Exit::new(entry, up, &self.config)));
                }
                None => tracing::warn!(exit_id = entry.id, "exit URL is not usable; skipped"),
            }
        }
        *write(&self.set) = Arc::new(next);
        fresh
    }

    /// Country to book usage of a route under.
    pub(crate) fn country_of(&self, route: &Route) -> String {
        match route {
            Route::Direct => self.direct_country.clone().unwrap_or_default(),
            Route::Via(e) => e
                .entry
                .country
                .clone()
                .unwrap_or_default()
                .to_ascii_lowercase(),
        }
    }

    fn direct_matches(&self, t: &Targeting) -> bool {
        t.city.is_none()
            && t.country
                .as_ref()
                .is_none_or(|c| self.direct_country.as_ref() == Some(c))
    }

    fn describe(t: &Targeting) -> String {
        match (&t.country, &t.city) {
            (None, None) => "no healthy exit".to_owned(),
            (c, city) => format!(
                "no healthy exit for{}{}",
                c.as_ref()
                    .map(|c| format!(" country={c}"))
                    .unwrap_or_default(),
                city.as_ref()
                    .map(|c| format!(" city={c}"))
                    .unwrap_or_default()
            ),
        }
    }

    /// The routes to try, in order, for a request of `account` with targeting `t`.
    /// A new sticky session is refused once the account keeps `session_share` alive.
    fn candidates(
        &self,
        t: &Targeting,
        account: &AccountState,
        session_share: usize,
        now: Instant,
    ) -> Result<Vec<Route>, ProxyError> {
        let sticky = match &t.session {
            Some(session) => self
                .sticky
                .admit(account, session, session_share, now)
                .map_err(|used| {
                    ProxyError::new(
                        ErrorCode::RateLimited,
                        format!(
                            "more than {} sticky sessions alive for the plan; reuse a session \
                             id or wait until one expires",
                            used.share
                        ),
                    )
                    .with_retry_after(60)
                })?,
            None => None,
        };
        let set = self.current();
        let direct_only = match self.direct_egress {
            DirectEgress::Always => true,
            DirectEgress::Never => false,
            DirectEgress::WhenNoUpstreams => !set.iter().any(|e| e.entry.enabled),
        };
        if direct_only {
            return if self.direct_matches(t) {
                Ok(vec![Route::Direct])
            } else {
                Err(ProxyError::new(ErrorCode::NoExit, Self::describe(t)))
            };
        }
        let mut matching: Vec<Arc<Exit>> = set
            .iter()
            .filter(|e| e.matches(t) && e.breaker.available(now))
            .cloned()
            .collect();
        if matching.is_empty() {
            return Err(ProxyError::new(ErrorCode::NoExit, Self::describe(t)));
        }
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        strategy::order(self.strategy, &mut matching, turn);
        if let Some(id) = sticky
            && let Some(pos) = matching.iter().position(|e| e.entry.id == id)
        {
            let sticky = matching.remove(pos);
            matching.insert(0, sticky);
        }
        // a session ended by its customer moves on: the exit it left comes last
        if sticky.is_none()
            && let Some(session) = &t.session
            && let Some(left) = self.sticky.avoided(account.id, session, now)
            && let Some(pos) = matching.iter().position(|e| e.entry.id == left)
        {
            let left = matching.remove(pos);
            matching.push(left);
        }
        matching.truncate(self.max_attempts);
        Ok(matching.into_iter().map(Route::Via).collect())
    }

    /// Claims an attempt on a route (the breaker may be half-open and already probing).
    fn try_acquire(&self, route: &Route, now: Instant) -> bool {
        match route {
            Route::Direct => true,
            Route::Via(e) => e.breaker.try_acquire(now),
        }
    }

    /// A route worked (the upstream answered properly, even if the destination then failed).
    fn upstream_ok(&self, route: &Route, latency: Duration) {
        if let Route::Via(e) = route {
            e.breaker.record_success();
            e.observe_latency(latency);
            e.successes.fetch_add(1, Ordering::Relaxed);
            e.last.passed();
        }
    }

    /// The upstream itself failed (unreachable, handshake, timeout); `why` is kept as the
    /// exit's last error (it names the exit's address, never its credentials).
    fn upstream_failed(&self, route: &Route, now: Instant, why: &str) {
        if let Route::Via(e) = route {
            e.breaker.record_failure(now);
            e.failures.fetch_add(1, Ordering::Relaxed);
            e.last.failed(why);
        }
    }

    /// Statistics of every exit.
    pub(crate) fn stats(&self, now: Instant) -> Vec<ExitStats> {
        self.current()
            .iter()
            .map(|e| {
                let (breaker, consecutive_failures) = e.breaker.describe(now);
                let latency = e.latency_micros();
                let (last_check_passed, last_error) = e.last.get();
                ExitStats {
                    id: e.entry.id,
                    address: format!("{}:{}", e.upstream.host, e.upstream.port),
                    kind: e.entry.kind,
                    country: e.entry.country.clone(),
                    city: e.entry.city.clone(),
                    pool: e.entry.pool.clone(),
                    enabled: e.entry.enabled,
                    healthy: e.entry.enabled && breaker == "closed",
                    breaker: breaker.to_owned(),
                    consecutive_failures,
                    active_connections: e.active(),
                    latency_ms: (latency > 0).then(|| latency as f64 / 1000.0),
                    successes: e.successes.load(Ordering::Relaxed),
                    failures: e.failures.load(Ordering::Relaxed),
                    last_check_passed,
                    last_error,
                }
            })
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn entry(id: i64, weight: u32) -> ExitEntry {
        ExitEntry {
            id,
            url: url::Url::parse(&format!("http://u%40x:p%3Aw@127.0.0.1:{}", 1000 + id))
                .expect("url"),
            kind: ExitKind::Http,
            country: Some(if id % 2 == 0 {
                "DE".into()
            } else {
                "fr".into()
            }),
            city: None,
            pool: "default".into(),
            enabled: true,
            weight,
            forward_names: false,
        }
    }

    pub(crate) fn exit(id: i64, weight: u32) -> Arc<Exit> {
        let e = entry(id, weight);
        let up = UpstreamAddr::from_url(&e.url, e.kind).expect("addr");
        Arc::new(Exit::new(e, up, &GatewayConfig::default()))
    }

    fn account(id: i64) -> Arc<AccountState> {
        Arc::new(AccountState::new(id))
    }

    fn ids(routes: &[Route]) -> Vec<i64> {
        routes.iter().map(Route::id).collect()
    }

    #[test]
    fn urls_give_address_and_decoded_credentials() {
        let e = exit(1, 1);
        assert_eq!(e.upstream.port, 1001);
        assert_eq!(e.upstream.credentials(), Some(("u@x", "p:w")));
        let s = url::Url::parse("socks5://[::1]").expect("url");
        let up = UpstreamAddr::from_url(&s, ExitKind::Socks5).expect("socks");
        assert_eq!((up.host.as_str(), up.port), ("::1", 1080));
        assert!(UpstreamAddr::from_url(&s, ExitKind::Http).is_none());
    }

    #[test]
    fn direct_egress_modes() {
        let cfg = GatewayConfig::default();
        let x = Exits::new(&cfg);
        let t = Targeting::default();
        let now = Instant::now();
        assert_eq!(
            ids(&x.candidates(&t, &account(1), 100, now).expect("direct")),
            vec![0]
        );
        let de = Targeting {
            country: Some("de".into()),
            ..Targeting::default()
        };
        assert_eq!(
            x.candidates(&de, &account(1), 100, now)
                .map_err(|e| e.code)
                .err(),
            Some(ErrorCode::NoExit)
        );
        x.install(vec![entry(1, 1), entry(2, 1)]);
        assert_eq!(
            ids(&x.candidates(&de, &account(1), 100, now).expect("de")),
            vec![2]
        );
        let never = Exits::new(&GatewayConfig {
            direct_egress: DirectEgress::Never,
            ..GatewayConfig::default()
        });
        assert!(never.candidates(&t, &account(1), 100, now).is_err());
        let always = Exits::new(&GatewayConfig {
            direct_egress: DirectEgress::Always,
            ..GatewayConfig::default()
        });
        always.install(vec![entry(1, 1)]);
        assert_eq!(
            ids(&always
                .candidates(&t, &account(1), 100, now)
                .expect("always")),
            vec![0]
        );
    }

    #[test]
    fn username_ttl_counts_minutes_from_first_use() {
        let x = Exits::new(&GatewayConfig {
            strategy: Strategy::RoundRobin,
            session_ttl: Duration::from_secs(5),
            ..GatewayConfig::default()
        });
        x.install(vec![entry(1, 1), entry(3, 1), entry(5, 1)]);
        let t0 = Instant::now();
        let nine = account(9);
        let t = Targeting {
            session: Some("abc".into()),
            ttl_minutes: Some(1),
            ..Targeting::default()
        };
        let first = x.candidates(&t, &nine, 100, t0).expect("c")[0].clone();
        x.served(&first, &t, &nine, 100, t0);
        // past the 5 s default, within the minute: round robin alone would start at 3, 5, 1
        for secs in [6, 30, 59] {
            let at = t0 + Duration::from_secs(secs);
            assert_eq!(
                x.candidates(&t, &nine, 100, at).expect("c")[0].id(),
                1,
                "{secs} s"
            );
        }
        // a minute after first use the session is gone: round robin's fifth turn starts at 3
        let at = t0 + Duration::from_secs(60);
        assert_eq!(x.candidates(&t, &nine, 100, at).expect("c")[0].id(), 3);
        assert_eq!(first.id(), 1);
    }

    #[test]
    fn an_ended_session_moves_to_another_exit() {
        let x = Exits::new(&GatewayConfig {
            strategy: Strategy::RoundRobin,
            ..GatewayConfig::default()
        });
        x.install(vec![entry(1, 1), entry(2, 1)]);
        let now = Instant::now();
        let nine = account(9);
        let t = Targeting {
            session: Some("abc".into()),
            ..Targeting::default()
        };
        for _ in 0..4 {
            let first = x.candidates(&t, &nine, 100, now).expect("c")[0].clone();
            x.served(&first, &t, &nine, 100, now);
            assert!(x.end_session(9, "abc", now));
            // whatever turn round robin is at, the exit just left comes last
            let next = x.candidates(&t, &nine, 100, now).expect("c");
            assert_ne!(next[0].id(), first.id());
            assert_eq!(next.last().map(Route::id), Some(first.id()));
        }
    }

    #[test]
    fn open_breakers_are_skipped_and_sticky_exit_goes_first() {
        let cfg = GatewayConfig {
            strategy: Strategy::RoundRobin,
            breaker_failures: 1,
            ..GatewayConfig::default()
        };
        let x = Exits::new(&cfg);
        x.install(vec![entry(1, 1), entry(3, 1), entry(5, 1)]);
        let now = Instant::now();
        let nine = account(9);
        let t = Targeting {
            session: Some("abc".into()),
            ..Targeting::default()
        };
        let first = x.candidates(&t, &nine, 100, now).expect("c");
        x.served(&first[1], &t, &nine, 100, now);
        for _ in 0..5 {
            assert_eq!(
                x.candidates(&t, &nine, 100, now).expect("c")[0].id(),
                first[1].id()
            );
        }
        x.upstream_failed(&first[1], now, "refused");
        let after = x.candidates(&t, &nine, 100, now).expect("c");
        assert!(
            !ids(&after).contains(&first[1].id()),
            "open breaker skipped"
        );
        assert_eq!(after.len(), 2);
    }
}
