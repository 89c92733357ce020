//! Wires the proxy engine to the store: the engine's directory snapshots come from the
//! database (accounts with their plans and allowlists, exits), its usage batches go into the
//! hourly usage buckets, and what it learns of each exit's health is written back to `exits`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use proxy::{
    AccountEntry, BoxError, Directory, DirectorySnapshot, ExitEntry, ExitKind, ExitStats,
    GatewayConfig, PlanLimits, UsageBatch, UsageRecord, UsageSink,
};
use store::{AccountId, Db, ExitId, credentials, exits, usage};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::state::GatewayStatus;
use crate::usage_spool::{self, UsageSpool};

/// A gateway ready to run, and what the web side may know of it.
pub struct StartedGateway {
    gateway: proxy::Gateway,
    db: Db,
    /// The spool folder and this database's identity in it, when the spool is on.
    spool: Option<(PathBuf, String)>,
    /// Addresses, live statistics, and whether it has stopped.
    pub status: GatewayStatus,
}

impl StartedGateway {
    /// Runs until `shutdown`, then drains and flushes usage (see [`proxy::Gateway::run`]).
    /// Meanwhile the exits' health is written to the database as it changes.
    pub async fn run(self, shutdown: CancellationToken) {
        let writer = CancellationToken::new();
        let health = tokio::spawn(write_health(
            self.db.clone(),
            self.gateway.stats(),
            writer.clone(),
        ));
        let adopter = self.spool.map(|(dir, database)| {
            tokio::spawn(usage_spool::replay_orphans(
                self.db,
                dir,
                database,
                writer.clone(),
            ))
        });
        self.gateway.run(shutdown).await;
        writer.cancel();
        let _ = health.await;
        if let Some(adopter) = adopter {
            let _ = adopter.await;
        }
        self.status.stopped.cancel();
    }
}

/// The engine's configuration: the service's addresses (the web listener is never a
/// destination) and drain deadline (`ATLANTIC_DRAIN_SECS`), the edge settings from the
/// environment, the engine's defaults for the rest.
fn gateway_config(config: &Config, web: SocketAddr) -> GatewayConfig {
    config.edge.apply(GatewayConfig {
        http_listen: config.http_proxy,
        socks_listen: config.socks_proxy,
        protected_addresses: vec![web],
        allow_private_destinations: config.allow_private_destinations,
        drain_timeout: config.cluster.drain,
        ..GatewayConfig::default()
    })
}

/// Builds the gateway on the bound proxy listeners; in a cluster its limits, quotas and
/// sticky sessions are the cluster's (kept in `cluster`). Fails when the usage spool cannot
/// be made (`ATLANTIC_USAGE_SPOOL_DIR`).
pub fn start(
    config: &Config,
    db: &Db,
    web: SocketAddr,
    http: TcpListener,
    socks: TcpListener,
    cluster: Option<cluster::ClusterState>,
) -> anyhow::Result<StartedGateway> {
    let database = usage_spool::database_identity(&config.database_url);
    let spool = match &config.usage_spool {
        Some(dir) => Some(UsageSpool::create(dir, &database).map_err(|e| {
            anyhow::anyhow!(
                "ATLANTIC_USAGE_SPOOL_DIR: cannot make the usage spool in {}: {e} \
                 (give a writable folder, or `off`)",
                dir.display()
            )
        })?),
        None => None,
    };
    let mut gateway = proxy::Gateway::from_listeners(
        gateway_config(config, web),
        http,
        socks,
        StoreDirectory { db: db.clone() },
        StoreUsage {
            db: db.clone(),
            spool,
            errors_logged: std::sync::Mutex::default(),
        },
    );
    if let Some(cluster) = cluster {
        gateway = gateway.with_shared_state(cluster);
    }
    let status = GatewayStatus {
        http_addr: gateway.http_addr(),
        socks_addr: gateway.socks_addr(),
        handle: gateway.handle(),
        stopped: CancellationToken::new(),
    };
    Ok(StartedGateway {
        gateway,
        db: db.clone(),
        spool: config.usage_spool.clone().map(|dir| (dir, database)),
        status,
    })
}

/// Reads the gateway's view of accounts and exits from the database.
struct StoreDirectory {
    db: Db,
}

impl Directory for StoreDirectory {
    async fn snapshot(&self) -> Result<DirectorySnapshot, BoxError> {
        let accounts = credentials::gateway_accounts(&self.db, store::now_ms()).await?;
        let exits = exits::list(&self.db).await?;
        Ok(DirectorySnapshot {
            accounts: accounts.into_iter().map(account_entry).collect(),
            exits: exits.into_iter().filter_map(exit_entry).collect(),
        })
    }
}

fn account_entry(a: credentials::GatewayAccount) -> AccountEntry {
    AccountEntry {
        account_id: a.account_id.get(),
        username: a.username,
        password: a.secret,
        allowlist: a.allowlist,
        plan: a.plan.map(|p| PlanLimits {
            requests_per_second: clamp_u32(p.requests_per_second),
            max_connections: clamp_u32(p.max_connections),
            bandwidth_bytes: p.bandwidth_bytes.map(|b| u64::try_from(b).unwrap_or(0)),
            bytes_used: u64::try_from(a.bytes_used).unwrap_or(0),
            period_start_ms: p.period_start,
        }),
    }
}

fn exit_entry(e: exits::Exit) -> Option<ExitEntry> {
    let url = match url::Url::parse(&e.url) {
        Ok(url) => url,
        Err(error) => {
            // Validated on insert; a row edited by hand into junk is skipped, not fatal.
            tracing::warn!(exit = e.id.get(), %error, "skipping an exit with an unparseable URL");
            return None;
        }
    };
    Some(ExitEntry {
        id: e.id.get(),
        url,
        kind: match e.kind {
            exits::ExitKind::Http => ExitKind::Http,
            exits::ExitKind::Socks5 => ExitKind::Socks5,
        },
        country: Some(e.country).filter(|c| !c.is_empty()),
        city: e.city,
        pool: e.pool,
        enabled: e.enabled,
        weight: clamp_u32(e.weight).max(1),
        forward_names: e.forward_names,
    })
}

/// Writes the gateway's usage batches into the hourly buckets, in one transaction per batch
/// that also stores the batch's id (a retried batch is written once), keeps drained counts in
/// the spool until they are written, and notes the first failure of each kind per account
/// and hour in the activity log.
struct StoreUsage {
    db: Db,
    spool: Option<UsageSpool>,
    errors_logged: std::sync::Mutex<std::collections::HashSet<(i64, i64, &'static str)>>,
}

impl UsageSink for StoreUsage {
    async fn flush(&self, batch: UsageBatch) -> Result<(), BoxError> {
        let first_errors = self.first_errors(&batch.records);
        let deltas: Vec<usage::UsageDelta> = batch.records.into_iter().map(usage_delta).collect();
        let recorded = usage::record_batch(&self.db, &batch.id, &deltas, store::now_ms())
            .await
            .inspect_err(|e| crate::database_watch::write_failed("usage flush", e))?;
        match recorded {
            usage::Recorded::Written => {}
            usage::Recorded::AlreadyWritten => {
                // the answer to an earlier attempt's commit was lost: nothing to add
                tracing::info!(batch = %batch.id, "usage batch was already written; skipped");
                return Ok(());
            }
        }
        for (account, code) in first_errors {
            let event = store::activity::NewActivity {
                detail: serde_json::json!({ "code": code }),
                ..store::activity::NewActivity::new(Some(AccountId(account)), "proxy.error")
            };
            if let Err(error) = store::activity::record(&self.db, &event, store::now_ms()).await {
                tracing::warn!(%error, account, code, "logging a proxy error failed");
            }
        }
        Ok(())
    }

    async fn keep(&self, batch_id: &str, records: &[UsageRecord]) {
        if let Some(spool) = &self.spool {
            spool.keep(batch_id, records).await;
        }
    }

    async fn written(&self, batch_id: &str) {
        if let Some(spool) = &self.spool {
            spool.written(batch_id).await;
        }
    }
}

impl StoreUsage {
    /// (account, code) pairs failing for the first time this hour. Remembered in memory only:
    /// after a restart an hour's first failure may be noted twice, which is harmless.
    fn first_errors(&self, batch: &[UsageRecord]) -> Vec<(i64, &'static str)> {
        let Ok(mut seen) = self.errors_logged.lock() else {
            return Vec::new();
        };
        let newest = batch.iter().map(|r| r.hour_start_ms).max().unwrap_or(0);
        seen.retain(|(_, hour, _)| *hour >= newest);
        let mut first = Vec::new();
        for r in batch {
            for (code, _) in &r.errors_by_code {
                if seen.insert((r.account_id, r.hour_start_ms, code.as_str())) {
                    first.push((r.account_id, code.as_str()));
                }
            }
        }
        first
    }
}

pub(crate) fn usage_delta(r: UsageRecord) -> usage::UsageDelta {
    usage::UsageDelta {
        account_id: AccountId(r.account_id),
        at_ms: r.hour_start_ms,
        exit_id: ExitId(r.exit_id),
        country: r.country,
        bytes_up: clamp_i64(r.bytes_up),
        bytes_down: clamp_i64(r.bytes_down),
        requests: clamp_i64(r.requests),
        errors: clamp_i64(r.errors),
        error_codes: r
            .errors_by_code
            .into_iter()
            .map(|(code, n)| (code.as_str().to_string(), clamp_i64(n)))
            .collect(),
        session: r.session,
    }
}

/// How often the engine's exit health is looked at (in memory, cheap).
const HEALTH_TICK: Duration = Duration::from_secs(1);
/// An exit whose verdict did not change is written again at most this often, with its latest
/// latency, and only when something went through it meanwhile.
const HEALTH_REFRESH: Duration = Duration::from_secs(15);
/// A changed verdict is written at the next tick, but an exit flapping between verdicts is
/// written at most this often.
const HEALTH_MIN_GAP: Duration = Duration::from_secs(5);
/// Deadline for one round of writes.
const HEALTH_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// What was last written for one exit.
struct Written {
    passed: bool,
    at: Instant,
    /// The exit's successes + failures then: unchanged means nothing new to tell.
    attempts: u64,
}

/// The database verdict for an exit, if the engine has one: the outcome of the latest probe or
/// connection through it (breakers open only after that outcome repeated).
fn verdict(e: &ExitStats) -> Option<bool> {
    e.last_check_passed.filter(|_| e.enabled)
}

/// Whether `e` is due to be written, given what was written last.
fn due(e: &ExitStats, last: Option<&Written>, now: Instant) -> bool {
    let Some(passed) = verdict(e) else {
        return false;
    };
    let Some(last) = last else {
        return true;
    };
    let since = now.duration_since(last.at);
    if passed != last.passed {
        return since >= HEALTH_MIN_GAP;
    }
    since >= HEALTH_REFRESH && e.successes + e.failures != last.attempts
}

/// Writes the engine's view of exit health into `exits` (health, check time, latency, error,
/// counts) through [`exits::record_health`], on change and otherwise throttled, until `stop`.
async fn write_health(db: Db, stats: proxy::LiveStats, stop: CancellationToken) {
    let mut written: HashMap<i64, Written> = HashMap::new();
    let mut tick = tokio::time::interval(HEALTH_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return,
        }
        let now = Instant::now();
        let exits = stats.snapshot().exits;
        written.retain(|id, _| exits.iter().any(|e| e.id == *id));
        let round = async {
            let due_now: Vec<_> = exits
                .iter()
                .filter(|e| due(e, written.get(&e.id), now))
                .collect();
            for e in due_now {
                let passed = verdict(e).unwrap_or_default();
                let error = e.last_error.as_deref().unwrap_or("failed");
                let check = if passed {
                    exits::HealthCheck::Passed {
                        latency_ms: e.latency_ms.map_or(0, |ms| ms.round() as i64),
                    }
                } else {
                    exits::HealthCheck::Failed { error }
                };
                match exits::record_health(&db, ExitId(e.id), &check, store::now_ms()).await {
                    Ok(()) | Err(store::StoreError::NotFound) => {
                        let attempts = e.successes + e.failures;
                        written.insert(
                            e.id,
                            Written {
                                passed,
                                at: now,
                                attempts,
                            },
                        );
                    }
                    Err(error) => {
                        tracing::warn!(exit = e.id, %error, "could not record exit health");
                        break;
                    }
                }
            }
        };
        tokio::select! {
            r = tokio::time::timeout(HEALTH_WRITE_TIMEOUT, round) => {
                if r.is_err() {
                    tracing::warn!("recording exit health timed out; will retry");
                }
            }
            () = stop.cancelled() => return,
        }
    }
}

fn clamp_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

fn clamp_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CommonArgs, ServeArgs};

    #[test]
    fn the_engine_gets_the_service_addresses_and_the_edge_settings() {
        let env = |name: &str| {
            let value = match name {
                "ATLANTIC_SHUTDOWN_GRACE_SECS" => "3",
                "ATLANTIC_HEAD_TIMEOUT_SECS" => "5",
                "ATLANTIC_BLOCKED_PORTS" => "none",
                "ATLANTIC_EXIT_STRATEGY" => "weighted_random",
                _ => return None,
            };
            Some(value.to_owned())
        };
        let serve = ServeArgs {
            http_proxy: Some("127.0.0.1:18080".into()),
            ..ServeArgs::default()
        };
        let config = Config::resolve(&serve, &CommonArgs::default(), &env).expect("valid");
        let web: SocketAddr = "127.0.0.1:13000".parse().expect("addr");
        let g = gateway_config(&config, web);
        assert_eq!(g.http_listen.to_string(), "127.0.0.1:18080");
        assert_eq!(g.protected_addresses, vec![web]);
        assert_eq!(g.drain_timeout, Duration::from_secs(3));
        assert_eq!(g.head_timeout, Duration::from_secs(5));
        assert!(g.blocked_ports.is_empty());
        assert_eq!(g.strategy, proxy::Strategy::WeightedRandom);
        assert_eq!(g.max_head_bytes, 64 * 1024, "unset: the engine default");
    }
}
