//! A stand-alone gateway for benchmarks: one account with the Unlimited plan, direct egress,
//! loopback destinations allowed, usage discarded (totals printed on exit).
//!
//!     cargo run --release -p proxy --example bench_gateway -- \
//!         [--http 127.0.0.1:8080] [--socks 127.0.0.1:1080] [--user bench] [--pass benchpw] \
//!         [--no-splice]
//!     bench/harness/run.sh http://bench:benchpw@127.0.0.1:8080 --quick

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use proxy::{
    AccountEntry, BoxError, Directory, DirectorySnapshot, Gateway, GatewayConfig, PlanLimits,
    UsageBatch, UsageSink,
};
use tokio_util::sync::CancellationToken;

struct Static(DirectorySnapshot);

impl Directory for Static {
    async fn snapshot(&self) -> Result<DirectorySnapshot, BoxError> {
        Ok(self.0.clone())
    }
}

#[derive(Clone, Default)]
struct Totals(Arc<[AtomicU64; 3]>);

impl UsageSink for Totals {
    async fn flush(&self, batch: UsageBatch) -> Result<(), BoxError> {
        for r in batch.records {
            self.0[0].fetch_add(r.bytes_up, Ordering::Relaxed);
            self.0[1].fetch_add(r.bytes_down, Ordering::Relaxed);
            self.0[2].fetch_add(r.requests, Ordering::Relaxed);
        }
        Ok(())
    }
}

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = GatewayConfig {
        http_listen: arg("--http", "127.0.0.1:8080").parse()?,
        socks_listen: arg("--socks", "127.0.0.1:1080").parse()?,
        allow_private_destinations: true,
        health_interval: None,
        splice: !std::env::args().any(|a| a == "--no-splice"),
        ..GatewayConfig::default()
    };
    let account = AccountEntry {
        account_id: 1,
        username: arg("--user", "bench"),
        password: arg("--pass", "benchpw"),
        allowlist: vec![],
        plan: Some(PlanLimits {
            requests_per_second: 1_000_000,
            max_connections: 100_000,
            bandwidth_bytes: None,
            bytes_used: 0,
            period_start_ms: 0,
        }),
    };
    let directory = Static(DirectorySnapshot {
        accounts: vec![account],
        exits: vec![],
    });
    let totals = Totals::default();
    let gateway = Gateway::bind(config, directory, totals.clone()).await?;
    eprintln!(
        "http {} socks {}",
        gateway.http_addr(),
        gateway.socks_addr()
    );
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });
    gateway.run(shutdown).await;
    let t = &totals.0;
    eprintln!(
        "usage: bytes_up={} bytes_down={} requests={}",
        t[0].load(Ordering::Relaxed),
        t[1].load(Ordering::Relaxed),
        t[2].load(Ordering::Relaxed)
    );
    Ok(())
}
