//! The figures of the live statistics (the public types the dashboard reads), and the
//! per-second rates computed between two samples of the traffic totals. The handle that takes
//! the samples and builds a snapshot is [`crate::live::LiveStats`].

use std::collections::HashMap;
use std::time::Instant;

use crate::directory::ExitKind;
use crate::meter::Totals;

/// Per-second rates of one scope between two samples.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Rates {
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

impl Sampled {
    /// Records a sample taken `now` and recomputes the rates against the previous one.
    pub(crate) fn record(&mut self, now: Instant, global: Totals, accounts: HashMap<i64, Totals>) {
        if let Some(at) = self.at {
            let secs = now.duration_since(at).as_secs_f64().max(0.001);
            self.global_rates = Rates::between(self.global, global, secs);
            self.account_rates = accounts
                .iter()
                .map(|(id, t)| {
                    let before = self.accounts.get(id).copied().unwrap_or_default();
                    (*id, Rates::between(before, *t, secs))
                })
                .collect();
        }
        self.at = Some(now);
        self.global = global;
        self.accounts = accounts;
    }

    /// The gateway's rates and each account's, as of the latest sample.
    pub(crate) fn rates(&self) -> (Rates, HashMap<i64, Rates>) {
        (self.global_rates, self.account_rates.clone())
    }
}

/// Traffic figures of one scope.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
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
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AccountStats {
    /// The account.
    pub account_id: i64,
    /// Its figures.
    #[serde(flatten)]
    pub traffic: TrafficStats,
}

/// One exit's health.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
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
    pub breaker: String,
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
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
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
    /// Live sticky sessions (at most a thousand per gateway, those in use first), by account
    /// and session id. Absent from a snapshot of a gateway that knows none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<crate::SessionStats>,
    /// How far the metered usage is known to be in the store.
    #[serde(default)]
    pub reconciliation: Reconciliation,
}

/// How far the metered usage is known to be in the store: everything metered before
/// `drained_at_ms` is written, except each listed account's drift, which starts in the hour
/// it names.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reconciliation {
    /// When counts were last drained for a flush (epoch ms); `None` before the first flush.
    /// In a cluster, the earliest of the gateways'.
    pub drained_at_ms: Option<i64>,
    /// Accounts with bytes metered and not yet confirmed written, by account id.
    pub accounts: Vec<AccountDrift>,
}

/// One account's drift.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccountDrift {
    /// The account.
    pub account_id: i64,
    /// Bytes metered and not yet confirmed written.
    pub bytes: u64,
    /// Start of the oldest hour with drift (epoch ms).
    pub oldest_hour_ms: i64,
}

impl Reconciliation {
    /// From a gateway's drift.
    pub(crate) fn of(drift: &crate::UsageDrift) -> Reconciliation {
        let mut accounts: Vec<AccountDrift> = Vec::new();
        // buckets come in (account, hour) order
        for &(account_id, hour, bytes) in &drift.buckets {
            match accounts.last_mut() {
                Some(a) if a.account_id == account_id => {
                    a.bytes += bytes;
                    a.oldest_hour_ms = a.oldest_hour_ms.min(hour);
                }
                _ => accounts.push(AccountDrift {
                    account_id,
                    bytes,
                    oldest_hour_ms: hour,
                }),
            }
        }
        Reconciliation {
            drained_at_ms: drift.drained_at_ms,
            accounts,
        }
    }

    /// Up to when `account_id`'s metered totals are known to be in the store (epoch ms):
    /// the last drain, or the start of its oldest hour with drift. `None` before the first
    /// flush.
    pub fn reconciled_until(&self, account_id: i64) -> Option<i64> {
        let drained = self.drained_at_ms?;
        Some(
            self.accounts
                .iter()
                .find(|a| a.account_id == account_id)
                .map_or(drained, |a| a.oldest_hour_ms.min(drained)),
        )
    }
}

/// The figures of one scope from its totals, rates and open connections.
pub(crate) fn traffic(t: Totals, r: Rates, active: u64) -> TrafficStats {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_reconciled_until_its_oldest_drift_or_the_last_drain() {
        let h = 3_600_000;
        let drift = crate::UsageDrift {
            bytes: 60,
            accounts: 2,
            buckets: vec![(1, 5 * h, 10), (1, 6 * h, 20), (2, 6 * h, 30)],
            drained_at_ms: Some(7 * h + 5),
        };
        let r = Reconciliation::of(&drift);
        assert_eq!(
            r.accounts,
            vec![
                AccountDrift {
                    account_id: 1,
                    bytes: 30,
                    oldest_hour_ms: 5 * h
                },
                AccountDrift {
                    account_id: 2,
                    bytes: 30,
                    oldest_hour_ms: 6 * h
                },
            ]
        );
        assert_eq!(r.reconciled_until(1), Some(5 * h));
        assert_eq!(r.reconciled_until(2), Some(6 * h));
        assert_eq!(
            r.reconciled_until(3),
            Some(7 * h + 5),
            "no drift: the last drain"
        );
        assert_eq!(
            Reconciliation::default().reconciled_until(3),
            None,
            "before any flush"
        );
    }
}
