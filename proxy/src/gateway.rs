//! The gateway: wires listeners, directory refresh, metering flush, statistics sampling, quota
//! enforcement and health probes together, and shuts them down in order (stop accepting →
//! drain → cut → final usage flush).

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::catalog::Catalog;
use crate::config::GatewayConfig;
use crate::connection::Protocol;
use crate::connection::pool::OriginPool;
use crate::directory::{Directory, DynDirectory};
use crate::exits::{Exits, Round};
use crate::listener;
use crate::meter::{DynSink, Meter, UsageSink};
use crate::policy::DestinationPolicy;
use crate::sources::{SourceLimits, Unauthenticated};
use crate::stats::{LiveStats, Sampled, Traffic};

/// State shared by every task of one gateway.
pub(crate) struct Shared {
    pub(crate) config: GatewayConfig,
    pub(crate) policy: DestinationPolicy,
    pub(crate) catalog: Catalog,
    pub(crate) exits: Exits,
    pub(crate) meter: Meter,
    pub(crate) traffic: Arc<Traffic>,
    /// Client connections open now.
    pub(crate) active: AtomicU64,
    pub(crate) sampled: Mutex<Sampled>,
    pub(crate) sources: Arc<SourceLimits>,
    /// Connections not authenticated yet, with their own smaller budget.
    pub(crate) unauthenticated: Arc<Unauthenticated>,
    /// Global connection cap.
    pub(crate) slots: Arc<Semaphore>,
    /// Idle forward-HTTP origin connections.
    pub(crate) origins: OriginPool,
    refresh: Notify,
    /// Told when the directory brought new exits, so they are probed without waiting.
    probe_new: Notify,
    /// Cancelled when shutdown starts: kept-alive connections close after their request.
    pub(crate) drain: CancellationToken,
    /// Cancelled when the drain deadline passes: everything still running is cut.
    pub(crate) force: CancellationToken,
}

/// The gateway engine. Build it with [`Gateway::bind`] or [`Gateway::from_listeners`], keep a
/// [`GatewayHandle`] if needed, then drive it with [`Gateway::run`].
pub struct Gateway {
    shared: Arc<Shared>,
    http: TcpListener,
    socks: TcpListener,
    http_addr: SocketAddr,
    socks_addr: SocketAddr,
    directory: Arc<dyn DynDirectory>,
    usage: Arc<dyn DynSink>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("http", &self.http_addr)
            .field("socks", &self.socks_addr)
            .finish_non_exhaustive()
    }
}

/// A cheap handle that outlives [`Gateway::run`] taking the gateway by value.
#[derive(Clone)]
pub struct GatewayHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for GatewayHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayHandle").finish_non_exhaustive()
    }
}

impl GatewayHandle {
    /// Asks for an immediate directory refresh.
    pub fn refresh_now(&self) {
        self.shared.refresh.notify_one();
    }

    /// Live statistics.
    pub fn stats(&self) -> LiveStats {
        LiveStats::new(self.shared.clone())
    }

    /// Probes one exit now, as the periodic health check does, and returns when it is done
    /// (its verdict is then in [`LiveStats::snapshot`]). An unknown id probes nothing.
    pub async fn probe_exit(&self, exit_id: i64) {
        let timeout = self
            .shared
            .config
            .connect_timeout
            .min(Duration::from_secs(5));
        self.shared
            .exits
            .probe(
                &self.shared.config.health_probe_target,
                timeout,
                Round::One(exit_id),
            )
            .await;
    }
}

impl Gateway {
    /// Binds both listeners from the configuration.
    pub async fn bind<D: Directory, U: UsageSink>(
        config: GatewayConfig,
        directory: D,
        usage: U,
    ) -> std::io::Result<Gateway> {
        let http = TcpListener::bind(config.http_listen).await?;
        let socks = TcpListener::bind(config.socks_listen).await?;
        Ok(Self::from_listeners(config, http, socks, directory, usage))
    }

    /// Uses listeners bound by the caller (tests bind `127.0.0.1:0`). Raises the process's
    /// file-descriptor limit and sizes the global connection cap to it.
    pub fn from_listeners<D: Directory, U: UsageSink>(
        config: GatewayConfig,
        http: TcpListener,
        socks: TcpListener,
        directory: D,
        usage: U,
    ) -> Gateway {
        let capacity = listener::raise_fd_limit()
            .map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX));
        let slots = config
            .max_connections
            .min(capacity)
            .clamp(1, Semaphore::MAX_PERMITS);
        let mut own = config.protected_addresses.clone();
        own.extend(http.local_addr().ok());
        own.extend(socks.local_addr().ok());
        let shared = Arc::new(Shared {
            policy: DestinationPolicy {
                allow_private: config.allow_private_destinations,
                blocked_ports: config.blocked_ports.clone(),
                own,
                resolver: config.resolver.clone(),
            },
            catalog: Catalog::default(),
            exits: Exits::new(&config),
            meter: Meter::default(),
            traffic: Arc::new(Traffic::default()),
            active: AtomicU64::new(0),
            sampled: Mutex::new(Sampled::default()),
            sources: Arc::new(SourceLimits::new(config.max_connections_per_source)),
            // never more than half the connection slots, so pending strangers can never keep
            // the listener from accepting
            unauthenticated: Arc::new(Unauthenticated::new(
                config.max_unauthenticated_per_source,
                config.max_unauthenticated.min(slots / 2),
            )),
            slots: Arc::new(Semaphore::new(slots)),
            origins: OriginPool::new(
                config.forward_pool_max_idle,
                config.forward_pool_idle_timeout,
            ),
            refresh: Notify::new(),
            probe_new: Notify::new(),
            drain: CancellationToken::new(),
            force: CancellationToken::new(),
            config,
        });
        let http_addr = http.local_addr().unwrap_or(shared.config.http_listen);
        let socks_addr = socks.local_addr().unwrap_or(shared.config.socks_listen);
        Gateway {
            shared,
            http,
            socks,
            http_addr,
            socks_addr,
            directory: Arc::new(directory),
            usage: Arc::new(usage),
        }
    }

    /// Address of the HTTP listener.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Address of the SOCKS5 listener.
    pub fn socks_addr(&self) -> SocketAddr {
        self.socks_addr
    }

    /// Live statistics (a cheap handle, usable after `run` took the gateway).
    pub fn stats(&self) -> LiveStats {
        LiveStats::new(self.shared.clone())
    }

    /// Asks for an immediate directory refresh.
    pub fn refresh_now(&self) {
        self.shared.refresh.notify_one();
    }

    /// A handle for `refresh_now` and `stats` once `run` owns the gateway.
    pub fn handle(&self) -> GatewayHandle {
        GatewayHandle {
            shared: self.shared.clone(),
        }
    }

    /// Loads the directory once (the first load happens before accepting, within
    /// `refresh_timeout`), then accepts until `shutdown` is cancelled; then stops accepting,
    /// lets running connections finish within `drain_timeout`, cuts the rest, and flushes
    /// usage a final time before returning.
    pub async fn run(self, shutdown: CancellationToken) {
        let Gateway {
            shared,
            http,
            socks,
            directory,
            usage,
            ..
        } = self;
        refresh(&shared, directory.as_ref()).await;

        let background = CancellationToken::new();
        let tasks = TaskTracker::new();
        tasks.spawn(refresh_loop(shared.clone(), directory, background.clone()));
        tasks.spawn(flush_loop(
            shared.clone(),
            usage.clone(),
            background.clone(),
        ));
        tasks.spawn(tick_loop(shared.clone(), background.clone()));
        if let Some(every) = shared.config.health_interval {
            tasks.spawn(health_loop(shared.clone(), every, background.clone()));
        }

        let connections = TaskTracker::new();
        let stop_accepting = shutdown.child_token();
        let accept_http = listener::accept_loop(
            http,
            shared.clone(),
            Protocol::Http,
            connections.clone(),
            stop_accepting.clone(),
        );
        let accept_socks = listener::accept_loop(
            socks,
            shared.clone(),
            Protocol::Socks5,
            connections.clone(),
            stop_accepting,
        );
        tokio::join!(accept_http, accept_socks);

        tracing::info!(
            open = connections.len(),
            "gateway stopping: draining connections"
        );
        shared.drain.cancel();
        connections.close();
        if tokio::time::timeout(shared.config.drain_timeout, connections.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                open = connections.len(),
                "drain deadline passed; cutting connections"
            );
            shared.force.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(2), connections.wait()).await;
        }
        shared.force.cancel();
        background.cancel();
        tasks.close();
        tasks.wait().await;
        final_flush(&shared, usage.as_ref()).await;
        tracing::info!("gateway stopped");
    }
}

/// Loads a snapshot and installs it; keeps the old one on failure.
async fn refresh(shared: &Shared, directory: &dyn DynDirectory) {
    let baselines = shared.catalog.baselines();
    match tokio::time::timeout(shared.config.refresh_timeout, directory.load()).await {
        Ok(Ok(snapshot)) => {
            let first = shared.catalog.current().is_none();
            if shared.exits.install(snapshot.exits) {
                shared.probe_new.notify_one();
            }
            shared.catalog.install(snapshot.accounts, &baselines);
            if first {
                let accounts = shared.catalog.current().map_or(0, |a| a.len());
                tracing::info!(accounts, "directory loaded");
            }
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "directory refresh failed; keeping the previous snapshot")
        }
        Err(_) => tracing::warn!("directory refresh timed out; keeping the previous snapshot"),
    }
}

async fn refresh_loop(
    shared: Arc<Shared>,
    directory: Arc<dyn DynDirectory>,
    stop: CancellationToken,
) {
    let pause = shared
        .config
        .refresh_interval
        .max(Duration::from_millis(10));
    loop {
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = shared.refresh.notified() => {}
            () = stop.cancelled() => return,
        }
        tokio::select! {
            () = refresh(&shared, directory.as_ref()) => {}
            () = stop.cancelled() => return,
        }
    }
}

async fn flush_once(shared: &Shared, usage: &dyn DynSink) -> bool {
    match shared.meter.flush(usage, shared.config.flush_timeout).await {
        Ok(batch) => {
            shared.catalog.credit_flushed(&batch);
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, pending = shared.meter.pending_len(), "usage flush failed; will retry");
            false
        }
    }
}

async fn flush_loop(shared: Arc<Shared>, usage: Arc<dyn DynSink>, stop: CancellationToken) {
    // a zero interval would make `interval` panic (and a tiny one spin)
    let mut every =
        tokio::time::interval(shared.config.flush_interval.max(Duration::from_millis(10)));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = stop.cancelled() => return,
        }
        flush_once(&shared, usage.as_ref()).await;
    }
}

async fn final_flush(shared: &Shared, usage: &dyn DynSink) {
    for attempt in 1..=3u32 {
        if flush_once(shared, usage).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
    }
    tracing::error!(
        records = shared.meter.pending_len(),
        "final usage flush failed; these counts are lost"
    );
}

/// Once a second: statistics sample, quota enforcement on running connections, session purge.
async fn tick_loop(shared: Arc<Shared>, stop: CancellationToken) {
    let stats = LiveStats::new(shared.clone());
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = stop.cancelled() => return,
        }
        stats.sample();
        stats.publish_metrics();
        shared.catalog.enforce_quotas();
        let now = std::time::Instant::now();
        shared.exits.purge(now);
        shared.origins.purge(now);
    }
}

async fn health_loop(shared: Arc<Shared>, every: Duration, stop: CancellationToken) {
    let timeout = shared.config.connect_timeout.min(Duration::from_secs(5));
    let every = every.max(Duration::from_millis(10));
    let target = &shared.config.health_probe_target;
    let mut next = tokio::time::Instant::now() + every;
    loop {
        let round = tokio::select! {
            () = tokio::time::sleep_until(next) => {
                next = tokio::time::Instant::now() + every;
                Round::All
            }
            () = shared.probe_new.notified() => Round::Unchecked,
            () = stop.cancelled() => return,
        };
        tokio::select! {
            () = shared.exits.probe(target, timeout, round) => {}
            () = stop.cancelled() => return,
        }
    }
}
