//! Wires the proxy engine to the store: the engine's directory snapshots come from the
//! database (accounts with their plans and allowlists, exits), and its usage batches go into
//! the hourly usage buckets.

use proxy::{
    AccountEntry, BoxError, Directory, DirectorySnapshot, ExitEntry, ExitKind, GatewayConfig,
    PlanLimits, UsageRecord, UsageSink,
};
use store::{AccountId, Db, ExitId, credentials, exits, usage};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::state::GatewayStatus;

/// A gateway ready to run, and what the web side may know of it.
pub struct StartedGateway {
    gateway: proxy::Gateway,
    /// Addresses, live statistics, and whether it has stopped.
    pub status: GatewayStatus,
}

impl StartedGateway {
    /// Runs until `shutdown`, then drains and flushes usage (see [`proxy::Gateway::run`]).
    pub async fn run(self, shutdown: CancellationToken) {
        self.gateway.run(shutdown).await;
        self.status.stopped.cancel();
    }
}

/// Builds the gateway on the bound proxy listeners.
pub fn start(config: &Config, db: &Db, http: TcpListener, socks: TcpListener) -> StartedGateway {
    let gateway_config = GatewayConfig {
        http_listen: config.http_proxy,
        socks_listen: config.socks_proxy,
        allow_private_destinations: config.allow_private_destinations,
        drain_timeout: config.shutdown_grace,
        ..GatewayConfig::default()
    };
    let gateway = proxy::Gateway::from_listeners(
        gateway_config,
        http,
        socks,
        StoreDirectory { db: db.clone() },
        StoreUsage { db: db.clone() },
    );
    let status = GatewayStatus {
        http_addr: gateway.http_addr(),
        socks_addr: gateway.socks_addr(),
        handle: gateway.handle(),
        stopped: CancellationToken::new(),
    };
    StartedGateway { gateway, status }
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
    })
}

/// Writes the gateway's usage batches into the hourly buckets, in one transaction per batch.
struct StoreUsage {
    db: Db,
}

impl UsageSink for StoreUsage {
    async fn flush(&self, batch: Vec<UsageRecord>) -> Result<(), BoxError> {
        let deltas: Vec<usage::UsageDelta> = batch.into_iter().map(usage_delta).collect();
        usage::record(&self.db, &deltas).await?;
        Ok(())
    }
}

fn usage_delta(r: UsageRecord) -> usage::UsageDelta {
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
    }
}

fn clamp_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

fn clamp_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
