//! Live statistics across the cluster: each gateway writes its own snapshot every second (it
//! lapses after [`STATS_KEPT`] unless rewritten), and the dashboard adds up the snapshots of
//! the gateways that are up ([`merge`]).

use std::collections::BTreeMap;
use std::time::Duration;

use proxy::{
    AccountDrift, AccountStats, ExitStats, Reconciliation, SessionStats, StatsSnapshot,
    TrafficStats,
};

use crate::{ClusterState, Error};

/// How long a node's snapshot outlives its last write: a node that died stops counting.
pub const STATS_KEPT: Duration = Duration::from_secs(5);

fn encode_error(e: &serde_json::Error) -> Error {
    redis::RedisError::from((redis::ErrorKind::Client, "statistics", e.to_string()))
}

impl ClusterState {
    /// Writes this node's snapshot.
    pub async fn publish_stats(&self, snapshot: &StatsSnapshot) -> Result<(), Error> {
        let json = serde_json::to_string(snapshot).map_err(|e| encode_error(&e))?;
        let mut connection = self.connection();
        redis::cmd("SET")
            .arg(self.keys.node_stats(&self.node))
            .arg(json)
            .arg("PX")
            .arg(u64::try_from(STATS_KEPT.as_millis()).unwrap_or(5_000))
            .query_async::<()>(&mut connection)
            .await
    }

    /// The latest snapshot of every node that wrote one within [`STATS_KEPT`], added up.
    pub async fn cluster_stats(&self, now_ms: i64) -> Result<StatsSnapshot, Error> {
        let nodes = self.nodes(now_ms).await?;
        let keys: Vec<String> = nodes
            .iter()
            .map(|n| self.keys.node_stats(&n.report.node))
            .collect();
        if keys.is_empty() {
            return Ok(merge(Vec::new(), now_ms));
        }
        let mut connection = self.connection();
        let found: Vec<Option<String>> = redis::cmd("MGET")
            .arg(keys)
            .query_async(&mut connection)
            .await?;
        let snapshots = found
            .into_iter()
            .flatten()
            .filter_map(|json| serde_json::from_str::<StatsSnapshot>(&json).ok())
            .collect();
        Ok(merge(snapshots, now_ms))
    }
}

/// Adds traffic figures up; the error rate is weighted by each part's request rate.
fn add(into: &mut TrafficStats, t: &TrafficStats) {
    let errors = into.error_rate * into.requests_per_sec + t.error_rate * t.requests_per_sec;
    into.active_connections += t.active_connections;
    into.bytes_up_per_sec += t.bytes_up_per_sec;
    into.bytes_down_per_sec += t.bytes_down_per_sec;
    into.requests_per_sec += t.requests_per_sec;
    into.error_rate = if into.requests_per_sec > 0.0 {
        errors / into.requests_per_sec
    } else {
        0.0
    };
    into.bytes_up_total += t.bytes_up_total;
    into.bytes_down_total += t.bytes_down_total;
    into.requests_total += t.requests_total;
    into.errors_total += t.errors_total;
}

/// How bad a breaker state is.
fn severity(breaker: &str) -> u8 {
    match breaker {
        "closed" => 0,
        "half_open" => 1,
        _ => 2,
    }
}

/// Adds one node's view of an exit to the others': counts add up, and the exit is healthy
/// only if every gateway finds it so (its breaker is the worst any gateway has).
fn add_exit(into: &mut ExitStats, e: ExitStats, seen: &mut u32) {
    *seen += 1;
    into.healthy &= e.healthy;
    if severity(&e.breaker) > severity(&into.breaker) {
        into.breaker = e.breaker;
    }
    into.consecutive_failures = into.consecutive_failures.max(e.consecutive_failures);
    into.active_connections += e.active_connections;
    into.latency_ms = match (into.latency_ms, e.latency_ms) {
        // a running mean over the gateways that measured it
        (Some(a), Some(b)) => Some(a + (b - a) / f64::from(*seen)),
        (a, b) => a.or(b),
    };
    into.successes += e.successes;
    into.failures += e.failures;
    into.last_check_passed = match (into.last_check_passed, e.last_check_passed) {
        (Some(a), Some(b)) => Some(a && b),
        (a, b) => a.or(b),
    };
    if into.last_error.is_none() {
        into.last_error = e.last_error;
    }
}

/// The cluster's snapshot from its nodes'.
pub fn merge(snapshots: Vec<StatsSnapshot>, now_ms: i64) -> StatsSnapshot {
    let ready = snapshots.iter().any(|s| s.ready);
    let mut global = TrafficStats::default();
    let mut accounts: BTreeMap<i64, TrafficStats> = BTreeMap::new();
    let mut exits: BTreeMap<i64, (ExitStats, u32)> = BTreeMap::new();
    let mut sessions: BTreeMap<(i64, String), SessionStats> = BTreeMap::new();
    let mut drained_at_ms: Option<i64> = None;
    let mut drift: BTreeMap<i64, AccountDrift> = BTreeMap::new();
    for snapshot in snapshots {
        // everything is known written only up to the gateway that drained least recently
        if let Some(at) = snapshot.reconciliation.drained_at_ms {
            drained_at_ms = Some(drained_at_ms.map_or(at, |d| d.min(at)));
        }
        for a in snapshot.reconciliation.accounts {
            match drift.get_mut(&a.account_id) {
                Some(into) => {
                    into.bytes += a.bytes;
                    into.oldest_hour_ms = into.oldest_hour_ms.min(a.oldest_hour_ms);
                }
                None => {
                    drift.insert(a.account_id, a);
                }
            }
        }
        for s in snapshot.sessions {
            match sessions.get_mut(&(s.account_id, s.session.clone())) {
                Some(into) => add_session(into, s),
                None => {
                    sessions.insert((s.account_id, s.session.clone()), s);
                }
            }
        }
        add(&mut global, &snapshot.global);
        for a in snapshot.accounts {
            add(accounts.entry(a.account_id).or_default(), &a.traffic);
        }
        for e in snapshot.exits {
            match exits.get_mut(&e.id) {
                Some((into, seen)) => add_exit(into, e, seen),
                None => {
                    exits.insert(e.id, (e, 1));
                }
            }
        }
    }
    StatsSnapshot {
        taken_at_ms: now_ms,
        ready,
        global,
        accounts: accounts
            .into_iter()
            .map(|(account_id, traffic)| AccountStats {
                account_id,
                traffic,
            })
            .collect(),
        exits: exits.into_values().map(|(e, _)| e).collect(),
        sessions: sessions.into_values().collect(),
        reconciliation: Reconciliation {
            drained_at_ms,
            accounts: drift.into_values().collect(),
        },
    }
}

/// Adds one gateway's view of a session to the others': connections and bytes add up, and
/// the binding is the one written last (it lives the longest; the cluster's is shared, so
/// they differ only for a moment after a move).
fn add_session(into: &mut SessionStats, s: SessionStats) {
    into.open_connections += s.open_connections;
    into.bytes_up += s.bytes_up;
    into.bytes_down += s.bytes_down;
    into.started_at_ms = into.started_at_ms.min(s.started_at_ms);
    if s.expires_at_ms > into.expires_at_ms {
        into.expires_at_ms = s.expires_at_ms;
        into.exit_id = s.exit_id;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traffic(requests_per_sec: f64, error_rate: f64, total: u64) -> TrafficStats {
        TrafficStats {
            active_connections: 2,
            bytes_up_per_sec: 10.0,
            bytes_down_per_sec: 100.0,
            requests_per_sec,
            error_rate,
            bytes_up_total: total,
            bytes_down_total: total * 10,
            requests_total: total,
            errors_total: 1,
        }
    }

    fn exit(id: i64, healthy: bool, breaker: &str, latency: Option<f64>) -> ExitStats {
        ExitStats {
            id,
            address: "192.0.2.1:3128".into(),
            kind: proxy::ExitKind::Http,
            country: Some("de".into()),
            city: None,
            pool: "default".into(),
            enabled: true,
            healthy,
            breaker: breaker.into(),
            consecutive_failures: u32::from(!healthy),
            active_connections: 3,
            latency_ms: latency,
            successes: 5,
            failures: 1,
            last_check_passed: Some(healthy),
            last_error: (!healthy).then(|| "refused".into()),
        }
    }

    fn snapshot(
        accounts: Vec<AccountStats>,
        exits: Vec<ExitStats>,
        t: TrafficStats,
    ) -> StatsSnapshot {
        StatsSnapshot {
            taken_at_ms: 1,
            ready: true,
            global: t,
            accounts,
            exits,
            sessions: Vec::new(),
            reconciliation: Reconciliation::default(),
        }
    }

    #[test]
    fn nodes_add_up_and_an_exit_is_healthy_only_where_every_node_finds_it_so() {
        let a = snapshot(
            vec![AccountStats {
                account_id: 7,
                traffic: traffic(10.0, 0.0, 100),
            }],
            vec![
                exit(1, true, "closed", Some(10.0)),
                exit(2, true, "closed", None),
            ],
            traffic(10.0, 0.0, 100),
        );
        let b = snapshot(
            vec![
                AccountStats {
                    account_id: 7,
                    traffic: traffic(30.0, 0.5, 50),
                },
                AccountStats {
                    account_id: 8,
                    traffic: traffic(1.0, 0.0, 1),
                },
            ],
            vec![exit(1, false, "open", Some(30.0))],
            traffic(30.0, 0.5, 50),
        );
        let merged = merge(vec![a, b], 99);
        assert_eq!(merged.taken_at_ms, 99);
        assert!(merged.ready);
        assert_eq!(merged.global.requests_per_sec, 40.0);
        assert!((merged.global.error_rate - 15.0 / 40.0).abs() < 1e-9);
        assert_eq!(merged.global.active_connections, 4);
        assert_eq!(merged.global.bytes_down_total, 1_500);
        let ids: Vec<i64> = merged.accounts.iter().map(|a| a.account_id).collect();
        assert_eq!(ids, [7, 8]);
        assert_eq!(merged.accounts[0].traffic.requests_total, 150);
        let one = &merged.exits[0];
        assert!(!one.healthy);
        assert_eq!(one.breaker, "open");
        assert_eq!(one.active_connections, 6);
        assert_eq!(one.latency_ms, Some(20.0));
        assert_eq!(one.last_check_passed, Some(false));
        assert_eq!(one.last_error.as_deref(), Some("refused"));
        assert!(merged.exits[1].healthy);
        assert_eq!(merge(Vec::new(), 5).global.requests_total, 0);
    }

    #[test]
    fn a_session_seen_by_two_gateways_adds_up_and_keeps_the_latest_binding() {
        let session = |exit_id, expires_at_ms, open, bytes| SessionStats {
            account_id: 7,
            session: "s1".into(),
            exit_id,
            started_at_ms: expires_at_ms - 60_000,
            expires_at_ms,
            open_connections: open,
            bytes_up: bytes,
            bytes_down: 2 * bytes,
        };
        let mut a = snapshot(Vec::new(), Vec::new(), TrafficStats::default());
        a.sessions = vec![session(1, 100_000, 2, 10)];
        let mut b = snapshot(Vec::new(), Vec::new(), TrafficStats::default());
        b.sessions = vec![session(3, 160_000, 1, 5)];
        let merged = merge(vec![a, b], 99);
        assert_eq!(merged.sessions.len(), 1);
        let s = &merged.sessions[0];
        assert_eq!(
            (s.exit_id, s.expires_at_ms, s.started_at_ms),
            (3, 160_000, 40_000)
        );
        assert_eq!((s.open_connections, s.bytes_up, s.bytes_down), (3, 15, 30));
    }

    #[test]
    fn the_cluster_is_reconciled_up_to_its_slowest_gateway() {
        let drift = |account_id, bytes, oldest_hour_ms| AccountDrift {
            account_id,
            bytes,
            oldest_hour_ms,
        };
        let mut a = snapshot(Vec::new(), Vec::new(), TrafficStats::default());
        a.reconciliation = Reconciliation {
            drained_at_ms: Some(100),
            accounts: vec![drift(7, 5, 3_600_000)],
        };
        let mut b = snapshot(Vec::new(), Vec::new(), TrafficStats::default());
        b.reconciliation = Reconciliation {
            drained_at_ms: Some(90),
            accounts: vec![drift(7, 3, 0), drift(8, 1, 3_600_000)],
        };
        let fresh = snapshot(Vec::new(), Vec::new(), TrafficStats::default());
        let merged = merge(vec![a, b, fresh], 99).reconciliation;
        assert_eq!(
            merged.drained_at_ms,
            Some(90),
            "a gateway yet to flush does not count"
        );
        assert_eq!(
            merged.accounts,
            vec![drift(7, 8, 0), drift(8, 1, 3_600_000)]
        );
    }
}
