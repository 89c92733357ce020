//! Live statistics: totals kept as atomics by the relays, turned into per-second rates by a
//! once-a-second sample, read through the cheap [`LiveStats`] handle.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::directory::ExitKind;
use crate::gateway::Shared;
use crate::locks::lock;

/// Totals of one scope (the gateway, or one account), never reset.
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    pub(crate) up: AtomicU64,
    pub(crate) down: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) errors: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    up: u64,
    down: u64,
    requests: u64,
    errors: u64,
}

impl Traffic {
    fn totals(&self) -> Totals {
        Totals {
            up: self.up.load(Ordering::Relaxed),
            down: self.down.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Rates {
    up: f64,
    down: f64,
    requests: f64,
    error_rate: f64,
}

impl Rates {
    fn between(old: Totals, new: Totals, secs: f64) -> Rates {
        let d = |a: u64, b: u64| b.saturating_sub(a) as f64;
        let requests = d(old.requests, new.requests);
        let errors = d(old.errors, new.errors);
        Rates {
            up: d(old.up, new.up) / secs,
            down: d(old.down, new.down) / secs,
            requests: requests / secs,
            error_rate: if requests > 0.0 {
                (errors / requests).min(1.0)
            } else {
                0.0
            },
        }
    }
}

/// The previous sample, and the rates computed from it.
#[derive(Debug, Default)]
pub(crate) struct Sampled {
    at: Option<Instant>,
    global: Totals,
    accounts: HashMap<i64, Totals>,
    global_rates: Rates,
    account_rates: HashMap<i64, Rates>,
}

/// Traffic figures of one scope.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TrafficStats {
    /// Client connections open now.
    pub active_connections: u64,
    /// Bytes per second toward destinations, over the last sample (about one second).
    pub bytes_up_per_sec: f64,
    /// Bytes per second delivered to customers.
    pub bytes_down_per_sec: f64,
    /// Requests per second.
    pub requests_per_sec: f64,
    /// Share of those requests that failed (0..=1).
    pub error_rate: f64,
    /// Bytes up since start.
    pub bytes_up_total: u64,
    /// Bytes down since start.
    pub bytes_down_total: u64,
    /// Requests since start.
    pub requests_total: u64,
    /// Errors since start.
    pub errors_total: u64,
}

/// One account's traffic.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AccountStats {
    /// The account.
    pub account_id: i64,
    /// Its figures.
    #[serde(flatten)]
    pub traffic: TrafficStats,
}

/// One exit's health.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExitStats {
    /// Exit id.
    pub id: i64,
    /// `host:port` of the upstream (never its credentials).
    pub address: String,
    /// Protocol.
    pub kind: ExitKind,
    /// Country tag.
    pub country: Option<String>,
    /// City tag.
    pub city: Option<String>,
    /// Pool.
    pub pool: String,
    /// Enabled in the directory.
    pub enabled: bool,
    /// Enabled and breaker closed.
    pub healthy: bool,
    /// `closed`, `open` or `half_open`.
    pub breaker: &'static str,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// Connections relayed through it now.
    pub active_connections: u32,
    /// Recent connect latency (including the upstream handshake).
    pub latency_ms: Option<f64>,
    /// Successful connects and health probes since start.
    pub successes: u64,
    /// Failed connects and health probes since start.
    pub failures: u64,
    /// Whether the latest connect or health probe through the exit worked (`None`: none yet).
    /// A destination the exit could not reach does not count against the exit.
    pub last_check_passed: Option<bool>,
    /// Why the latest failed connect or probe failed.
    pub last_error: Option<String>,
}

/// Everything the dashboard shows live.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatsSnapshot {
    /// When it was taken (epoch ms).
    pub taken_at_ms: i64,
    /// Whether the first directory snapshot has loaded.
    pub ready: bool,
    /// The gateway as a whole.
    pub global: TrafficStats,
    /// Accounts with traffic or open connections since start.
    pub accounts: Vec<AccountStats>,
    /// Every exit.
    pub exits: Vec<ExitStats>,
}

/// Handle to the live statistics; cheap to clone.
#[derive(Clone)]
pub struct LiveStats {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LiveStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveStats").finish_non_exhaustive()
    }
}

fn traffic(t: Totals, r: Rates, active: u64) -> TrafficStats {
    TrafficStats {
        active_connections: active,
        bytes_up_per_sec: r.up,
        bytes_down_per_sec: r.down,
        requests_per_sec: r.requests,
        error_rate: r.error_rate,
        bytes_up_total: t.up,
        bytes_down_total: t.down,
        requests_total: t.requests,
        errors_total: t.errors,
    }
}

impl LiveStats {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Takes a sample and recomputes the rates (called about once a second).
    pub(crate) fn sample(&self) {
        let now = Instant::now();
        let global = self.shared.traffic.totals();
        let accounts: HashMap<i64, Totals> = self
            .shared
            .catalog
            .states()
            .iter()
            .map(|s| (s.id, s.traffic.totals()))
            .collect();
        let mut s = lock(&self.shared.sampled);
        if let Some(at) = s.at {
            let secs = now.duration_since(at).as_secs_f64().max(0.001);
            s.global_rates = Rates::between(s.global, global, secs);
            s.account_rates = accounts
                .iter()
                .map(|(id, t)| {
                    (
                        *id,
                        Rates::between(s.accounts.get(id).copied().unwrap_or_default(), *t, secs),
                    )
                })
                .collect();
        }
        s.at = Some(now);
        s.global = global;
        s.accounts = accounts;
    }

    /// Publishes the totals through the `metrics` facade (a no-op unless the embedding service
    /// installed a recorder, e.g. a Prometheus exporter).
    pub(crate) fn publish_metrics(&self) {
        let shared = &self.shared;
        let t = shared.traffic.totals();
        metrics::gauge!("atlantic_proxy_active_connections")
            .set(shared.active.load(Ordering::Relaxed) as f64);
        metrics::counter!("atlantic_proxy_bytes_up_total").absolute(t.up);
        metrics::counter!("atlantic_proxy_bytes_down_total").absolute(t.down);
        metrics::counter!("atlantic_proxy_requests_total").absolute(t.requests);
        metrics::counter!("atlantic_proxy_errors_total").absolute(t.errors);
        metrics::gauge!("atlantic_proxy_forward_pool_idle").set(shared.origins.len() as f64);
        metrics::gauge!("atlantic_proxy_usage_pending_records")
            .set(shared.meter.pending_len() as f64);
        for e in shared.exits.stats(Instant::now()) {
            let id = e.id.to_string();
            metrics::gauge!("atlantic_proxy_exit_healthy", "exit_id" => id.clone())
                .set(if e.healthy { 1.0 } else { 0.0 });
            metrics::gauge!("atlantic_proxy_exit_active_connections", "exit_id" => id)
                .set(f64::from(e.active_connections));
        }
    }

    /// The current figures.
    pub fn snapshot(&self) -> StatsSnapshot {
        let shared = &self.shared;
        let (global_rates, account_rates) = {
            let s = lock(&shared.sampled);
            (s.global_rates, s.account_rates.clone())
        };
        let mut accounts: Vec<AccountStats> = shared
            .catalog
            .states()
            .iter()
            .map(|s| {
                let t = s.traffic.totals();
                let r = account_rates.get(&s.id).copied().unwrap_or_default();
                AccountStats {
                    account_id: s.id,
                    traffic: traffic(t, r, u64::from(s.active())),
                }
            })
            .filter(|a| a.traffic.active_connections > 0 || a.traffic.requests_total > 0)
            .collect();
        accounts.sort_by_key(|a| a.account_id);
        StatsSnapshot {
            taken_at_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
            ready: shared.catalog.current().is_some(),
            global: traffic(
                shared.traffic.totals(),
                global_rates,
                shared.active.load(Ordering::Relaxed),
            ),
            accounts,
            exits: shared.exits.stats(Instant::now()),
        }
    }
}
