//! The gateway's public face and its tasks: builds the shared context ([`Engine`]), wires
//! listeners, directory refresh, metering flush, statistics sampling, quota enforcement and
//! health probes together, and shuts them down in order (stop accepting → drain → cut → final
//! usage flush).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock;
use crate::cluster::Cluster;
use crate::config::GatewayConfig;
use crate::connection::Protocol;
use crate::directory::{Directory, DynDirectory};
use crate::engine::Engine;
use crate::exits::Round;
use crate::listener;
use crate::live::LiveStats;
use crate::meter::{DynSink, UsageSink};
use crate::shared::SharedState;

/// The gateway engine. Build it with [`Gateway::bind`] or [`Gateway::from_listeners`], keep a
/// [`GatewayHandle`] if needed, then drive it with [`Gateway::run`].
pub struct Gateway {
    engine: Arc<Engine>,
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
    engine: Arc<Engine>,
}

impl std::fmt::Debug for GatewayHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayHandle").finish_non_exhaustive()
    }
}

impl GatewayHandle {
    /// Asks for an immediate directory refresh.
    pub fn refresh_now(&self) {
        self.engine.refresh.notify_one();
    }

    /// Live statistics.
    pub fn stats(&self) -> LiveStats {
        LiveStats::new(self.engine.clone())
    }

    /// `None` for a gateway on its own; in a cluster, whether it works on the cluster's
    /// state now (`false`: degraded, serving on local limits) and how many calls to it failed
    /// or were too slow since start.
    pub fn cluster_status(&self) -> Option<(bool, u64)> {
        self.engine
            .cluster
            .get()
            .map(|c| (c.is_up(), c.fallbacks()))
    }

    /// In a cluster, tells the gateway how many gateways the cluster has (from the node
    /// registry): it sizes the batches it takes from the shared request buckets so that all
    /// gateways together hold at most a tenth of a plan's rate. Nothing for a lone gateway.
    pub fn set_cluster_gateways(&self, gateways: u32) {
        if let Some(cluster) = self.engine.cluster.get() {
            cluster.set_gateways(gateways);
        }
    }

    /// Ends a sticky session on this gateway: drops its binding, so that the next request
    /// with its id picks an exit anew, and closes its open connections. Whether it was alive
    /// here. (In a cluster the shared binding is the caller's to drop, and every gateway's to
    /// end: see the `cluster` crate's change notices.)
    pub fn end_session(&self, account_id: i64, session: &str) -> bool {
        self.engine
            .exits
            .end_session(account_id, session, crate::clock::now())
    }

    /// Probes one exit now, as the periodic health check does, and returns when it is done
    /// (its verdict is then in [`LiveStats::snapshot`]). An unknown id probes nothing.
    pub async fn probe_exit(&self, exit_id: i64) {
        let timeout = self
            .engine
            .config
            .connect_timeout
            .min(Duration::from_secs(5));
        self.engine
            .exits
            .probe(
                &self.engine.config.health_probe_target,
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
        let listeners: Vec<SocketAddr> = [http.local_addr(), socks.local_addr()]
            .into_iter()
            .filter_map(Result::ok)
            .collect();
        let engine = Arc::new(Engine::new(config, slots, &listeners));
        let http_addr = http.local_addr().unwrap_or(engine.config.http_listen);
        let socks_addr = socks.local_addr().unwrap_or(engine.config.socks_listen);
        Gateway {
            engine,
            http,
            socks,
            http_addr,
            socks_addr,
            directory: Arc::new(directory),
            usage: Arc::new(usage),
        }
    }

    /// Makes the gateway one node of a cluster: its requests-per-second buckets, connection
    /// caps, quota totals and sticky sessions become the cluster's, kept in `shared` (see
    /// [`SharedState`]). Without it the gateway keeps them in its own memory.
    pub fn with_shared_state<S: SharedState>(self, shared: S) -> Gateway {
        // `Gateway` is only built here with an empty cell, and this consumes it
        let _ = self.engine.cluster.set(Cluster::new(Arc::new(shared)));
        self
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
        LiveStats::new(self.engine.clone())
    }

    /// Asks for an immediate directory refresh.
    pub fn refresh_now(&self) {
        self.engine.refresh.notify_one();
    }

    /// A handle for `refresh_now` and `stats` once `run` owns the gateway.
    pub fn handle(&self) -> GatewayHandle {
        GatewayHandle {
            engine: self.engine.clone(),
        }
    }

    /// Loads the directory once (the first load happens before accepting, within
    /// `refresh_timeout`), then accepts until `shutdown` is cancelled; then stops accepting,
    /// lets running connections finish within `drain_timeout`, cuts the rest, and flushes
    /// usage a final time before returning.
    pub async fn run(self, shutdown: CancellationToken) {
        let Gateway {
            engine,
            http,
            socks,
            directory,
            usage,
            ..
        } = self;
        crate::telemetry::register();
        refresh(&engine, directory.as_ref()).await;

        let background = CancellationToken::new();
        let tasks = TaskTracker::new();
        tasks.spawn(refresh_loop(engine.clone(), directory, background.clone()));
        tasks.spawn(flush_loop(
            engine.clone(),
            usage.clone(),
            background.clone(),
        ));
        tasks.spawn(tick_loop(engine.clone(), background.clone()));
        if let Some(every) = engine.config.health_interval {
            tasks.spawn(health_loop(engine.clone(), every, background.clone()));
        }

        let connections = TaskTracker::new();
        let stop_accepting = shutdown.child_token();
        let accept_http = listener::accept_loop(
            http,
            engine.clone(),
            Protocol::Http,
            connections.clone(),
            stop_accepting.clone(),
        );
        let accept_socks = listener::accept_loop(
            socks,
            engine.clone(),
            Protocol::Socks5,
            connections.clone(),
            stop_accepting,
        );
        tokio::join!(accept_http, accept_socks);

        tracing::info!(
            open = connections.len(),
            "gateway stopping: draining connections"
        );
        engine.drain.cancel();
        connections.close();
        if tokio::time::timeout(engine.config.drain_timeout, connections.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                open = connections.len(),
                "drain deadline passed; cutting connections"
            );
            engine.force.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(2), connections.wait()).await;
        }
        engine.force.cancel();
        background.cancel();
        tasks.close();
        tasks.wait().await;
        final_flush(&engine, usage.as_ref()).await;
        tracing::info!("gateway stopped");
    }
}

/// Loads a snapshot and installs it; keeps the old one on failure.
async fn refresh(engine: &Engine, directory: &dyn DynDirectory) {
    let baselines = engine.accounts.baselines();
    match tokio::time::timeout(engine.config.refresh_timeout, directory.load()).await {
        Ok(Ok(snapshot)) => {
            let first = engine.catalog.current().is_none();
            if engine.exits.install(snapshot.exits) {
                engine.probe_new.notify_one();
            }
            engine
                .catalog
                .install(snapshot.accounts, &baselines, &engine.accounts);
            if first {
                let accounts = engine.catalog.current().map_or(0, |a| a.len());
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
    engine: Arc<Engine>,
    directory: Arc<dyn DynDirectory>,
    stop: CancellationToken,
) {
    let pause = engine
        .config
        .refresh_interval
        .max(Duration::from_millis(10));
    loop {
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = engine.refresh.notified() => {}
            () = stop.cancelled() => return,
        }
        tokio::select! {
            () = refresh(&engine, directory.as_ref()) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// Collects and sends once (the final flush).
async fn flush_once(engine: &Engine, usage: &dyn DynSink) -> bool {
    engine.meter.collect(usage).await;
    send_once(engine, usage).await
}

/// Sends the waiting batches; says whether all were written.
async fn send_once(engine: &Engine, usage: &dyn DynSink) -> bool {
    let flushed = engine.meter.send(usage, engine.config.flush_timeout).await;
    crate::telemetry::drift(&engine.meter.drift());
    engine.accounts.credit_flushed(&flushed.written);
    match flushed.error {
        None => {
            crate::telemetry::flushed();
            true
        }
        Some(e) => {
            crate::telemetry::flush_failed();
            tracing::warn!(
                error = %e,
                pending = engine.meter.pending_len(),
                batches = engine.meter.pending_batches(),
                "usage flush failed; will retry"
            );
            false
        }
    }
}

/// Every flush interval: collect the counts (kept by the sink at once), and, side by side so
/// that a slow store never holds the collection up, send what waits.
async fn flush_loop(engine: Arc<Engine>, usage: Arc<dyn DynSink>, stop: CancellationToken) {
    // a zero interval would make `interval` panic (and a tiny one spin)
    let period = engine.config.flush_interval.max(Duration::from_millis(10));
    let ticker = || {
        let mut every = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every
    };
    let collect = async {
        let mut every = ticker();
        loop {
            every.tick().await;
            engine.meter.collect(usage.as_ref()).await;
        }
    };
    let send = async {
        let mut every = ticker();
        loop {
            every.tick().await;
            send_once(&engine, usage.as_ref()).await;
        }
    };
    tokio::select! {
        () = collect => {}
        () = send => {}
        () = stop.cancelled() => {}
    }
}

async fn final_flush(engine: &Engine, usage: &dyn DynSink) {
    for attempt in 1..=3u32 {
        if flush_once(engine, usage).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
    }
    tracing::error!(
        records = engine.meter.pending_len(),
        "final usage flush failed; these counts are lost"
    );
}

/// Once a second: statistics sample, cluster sync (leases, byte totals), quota enforcement on
/// running connections, session purge.
async fn tick_loop(engine: Arc<Engine>, stop: CancellationToken) {
    let stats = LiveStats::new(engine.clone());
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = stop.cancelled() => return,
        }
        stats.sample();
        stats.publish_metrics();
        if let Some(cluster) = engine.cluster.get() {
            cluster.sync(&engine.accounts.all(), &engine.catalog).await;
        }
        engine.catalog.enforce_quotas(&engine.accounts);
        engine.exits.purge(clock::now());
        engine.origins.purge(std::time::Instant::now());
    }
}

async fn health_loop(engine: Arc<Engine>, every: Duration, stop: CancellationToken) {
    let timeout = engine.config.connect_timeout.min(Duration::from_secs(5));
    let every = every.max(Duration::from_millis(10));
    let target = &engine.config.health_probe_target;
    let mut next = tokio::time::Instant::now() + every;
    loop {
        let round = tokio::select! {
            () = tokio::time::sleep_until(next) => {
                next = tokio::time::Instant::now() + every;
                Round::All
            }
            () = engine.probe_new.notified() => Round::Unchecked,
            () = stop.cancelled() => return,
        };
        tokio::select! {
            () = engine.exits.probe(target, timeout, round) => {}
            () = stop.cancelled() => return,
        }
    }
}
