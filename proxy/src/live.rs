//! The live-statistics handle: samples the traffic totals about once a second, publishes them
//! through the `metrics` facade, and builds the [`StatsSnapshot`] the dashboard shows.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::clock;
use crate::engine::Engine;
use crate::locks::lock;
use crate::meter::Totals;
use crate::stats::{AccountStats, Reconciliation, StatsSnapshot, traffic};

/// Handle to the live statistics; cheap to clone.
#[derive(Clone)]
pub struct LiveStats {
    engine: Arc<Engine>,
}

impl std::fmt::Debug for LiveStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveStats").finish_non_exhaustive()
    }
}

impl LiveStats {
    pub(crate) fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }

    /// Takes a sample and recomputes the rates (called about once a second).
    pub(crate) fn sample(&self) {
        let now = Instant::now();
        let global = self.engine.traffic.totals();
        let accounts: HashMap<i64, Totals> = self
            .engine
            .accounts
            .all()
            .iter()
            .map(|s| (s.id, s.traffic.totals()))
            .collect();
        lock(&self.engine.sampled).record(now, global, accounts);
    }

    /// Publishes the totals through the `metrics` facade (a no-op unless the embedding service
    /// installed a recorder, e.g. a Prometheus exporter).
    pub(crate) fn publish_metrics(&self) {
        let engine = &self.engine;
        let t = engine.traffic.totals();
        metrics::gauge!("atlantic_proxy_active_connections")
            .set(engine.active.load(Ordering::Relaxed) as f64);
        metrics::counter!("atlantic_proxy_bytes_up_total").absolute(t.up);
        metrics::counter!("atlantic_proxy_bytes_down_total").absolute(t.down);
        metrics::counter!("atlantic_proxy_requests_total").absolute(t.requests);
        metrics::counter!("atlantic_proxy_errors_total").absolute(t.errors);
        metrics::gauge!("atlantic_proxy_max_connections").set(engine.config.max_connections as f64);
        metrics::gauge!("atlantic_proxy_forward_pool_idle").set(engine.origins.len() as f64);
        metrics::gauge!("atlantic_proxy_usage_pending_records")
            .set(engine.meter.pending_len() as f64);
        for e in engine.exits.stats(clock::now()) {
            let id = e.id.to_string();
            let pool = e.pool.clone();
            metrics::gauge!("atlantic_proxy_exit_healthy", "exit_id" => id.clone(), "pool" => pool.clone())
                .set(if e.healthy { 1.0 } else { 0.0 });
            metrics::gauge!("atlantic_proxy_exit_enabled", "exit_id" => id.clone(), "pool" => pool)
                .set(if e.enabled { 1.0 } else { 0.0 });
            metrics::gauge!("atlantic_proxy_exit_active_connections", "exit_id" => id)
                .set(f64::from(e.active_connections));
        }
    }

    /// Bytes metered and not yet confirmed written to the store, per account and hour, as of
    /// the last flush.
    pub fn usage_drift(&self) -> crate::UsageDrift {
        self.engine.meter.drift()
    }

    /// The current figures.
    pub fn snapshot(&self) -> StatsSnapshot {
        let engine = &self.engine;
        let (global_rates, account_rates) = lock(&engine.sampled).rates();
        let mut accounts: Vec<AccountStats> = engine
            .accounts
            .all()
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
        let taken_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        StatsSnapshot {
            taken_at_ms,
            ready: engine.catalog.current().is_some(),
            global: traffic(
                engine.traffic.totals(),
                global_rates,
                engine.active.load(Ordering::Relaxed),
            ),
            accounts,
            exits: engine.exits.stats(clock::now()),
            sessions: engine.exits.sessions(clock::now(), taken_at_ms),
            reconciliation: Reconciliation::of(&engine.meter.drift()),
        }
    }
}
