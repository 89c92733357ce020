//! The AtlanticProxy service: configuration, the web application (dashboard, health, metrics),
//! the in-process gateway wired to the store, and the `atlantic` command line.
//!
//! [`run`] takes bound listeners and a shutdown token, so tests start the whole service on
//! port 0 and stop it deterministically.

mod activity;
mod auth;
mod backup;
mod billing;
pub mod cli;
pub mod config;
mod database_watch;
mod gateway;
mod gateways;
mod housekeeping;
mod http;
mod node;
mod provision;
mod quota_warnings;
mod seed;
mod shutdown;
mod site;
mod state;
pub mod telemetry;
mod usage_spool;
mod web_listener;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use leptos::prelude::LeptosOptions;
use store::Db;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// TOTP codes and recovery codes, for tests that enrol and sign in as an authenticator app
/// and a customer would.
pub use crate::auth::{recovery_codes, totp};
/// The Paystack client and test double, for the contract test against Paystack's spec.
pub use crate::billing::{double as paystack_double, paystack};
pub use crate::config::{Config, Environment, Role};
pub use crate::housekeeping::{Housekeeper, Report as HousekeepingReport};
pub use crate::http::rate_limit::LimitClock;
use crate::state::AppState;

/// The sockets the service listens on.
#[derive(Debug)]
pub struct Listeners {
    /// Dashboard, API, WebSocket, health and metrics (a gateway node: probes and metrics).
    pub web: TcpListener,
    /// The HTTP proxy (forward and CONNECT) and the SOCKS5 proxy; `None` for a node that runs
    /// no gateway (`--role web`).
    pub proxies: Option<(TcpListener, TcpListener)>,
}

impl Listeners {
    /// Binds the configured addresses (the proxy ports only if the role runs a gateway); the
    /// error names the variable whose address failed.
    pub async fn bind(config: &Config) -> anyhow::Result<Listeners> {
        async fn bind(var: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("{var}: cannot listen on {addr}"))
        }
        let proxies = if config.cluster.role.runs_gateway() {
            Some((
                bind("ATLANTIC_HTTP_PROXY", config.http_proxy).await?,
                bind("ATLANTIC_SOCKS_PROXY", config.socks_proxy).await?,
            ))
        } else {
            None
        };
        Ok(Listeners {
            web: bind("ATLANTIC_LISTEN", config.listen).await?,
            proxies,
        })
    }
}

/// Runs the service until `shutdown` is cancelled, then stops accepting, drains in-flight
/// requests within the grace period, stops the gateway (which flushes buffered usage) and
/// closes the database pool.
pub async fn run(
    config: Config,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    run_with_handles(config, listeners, shutdown, None).await
}

/// What a test drives a running service with, instead of waiting on real time.
#[derive(Clone)]
#[non_exhaustive]
pub struct Handles {
    /// Runs housekeeping now instead of at its interval.
    pub housekeeper: Housekeeper,
    /// The web limiters' clock: moving it forward refills their buckets.
    pub limit_clock: LimitClock,
}

/// Like [`run`], and hands `handles` the service's [`Handles`] as soon as it is built,
/// before it serves.
pub async fn run_with_handles(
    config: Config,
    listeners: Listeners,
    shutdown: CancellationToken,
    handles: Option<tokio::sync::oneshot::Sender<Handles>>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    // first: the gateway and the cluster connection register their series as they start
    let metrics = telemetry::metrics();
    let role = config.cluster.role;
    // a gateway node serves no dashboard, so it needs no built site
    let site = if role.runs_web() {
        Some(site::load(&config.site_root).map_err(anyhow::Error::msg)?)
    } else {
        None
    };
    let db = Db::connect(&config.database_url)
        .await
        .map_err(|e| anyhow::anyhow!("DATABASE_URL: {e}"))?
        .with_keyring(config.keyring.clone());
    if config.keyring.is_development() {
        tracing::warn!(
            "no ATLANTIC_SECRET: secrets at rest are sealed with the public development one"
        );
    }
    db.migrate().await.context("running database migrations")?;
    if config.environment == Environment::Development && role.runs_web() {
        seed::demo_if_empty(&db)
            .await
            .context("seeding demo data")?;
    }
    let cluster = node::connect(&config).await?;

    let web_addr = listeners.web.local_addr()?;
    let gateway = match (role.runs_gateway(), listeners.proxies) {
        (true, Some((http, socks))) => Some(gateway::start(
            &config,
            &db,
            web_addr,
            http,
            socks,
            cluster.clone(),
        )?),
        (true, None) => anyhow::bail!("the gateway's listeners were not bound"),
        (false, _) => None,
    };
    let gateway_status = gateway.as_ref().map(|g| g.status.clone());
    let gateway_task = gateway.map(|g| tokio::spawn(g.run(shutdown.clone())));
    // a gateway node shows no dashboard: it needs no view of the other gateways
    let gateways = gateways::Gateways::new(
        gateway_status.clone(),
        cluster.clone().filter(|_| role.runs_web()),
        (config.http_proxy, config.socks_proxy),
    );

    let leptos_options = LeptosOptions::builder()
        .output_name(
            site.as_ref()
                .map_or_else(|| "atlantic".to_owned(), |s| s.output_name.clone()),
        )
        .site_root(config.site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(web_addr)
        .build();
    let site_url = site_url(&config.public_url, web_addr);
    let paystack_base = match &config.paystack_base_url {
        Some(base) => base.clone(),
        None => site_url
            .join("paystack-double/")
            .context("the test double's URL")?,
    };
    let paystack =
        billing::paystack::Paystack::new(paystack_base, config.paystack_secret_key.expose());
    // Development without PAYSTACK_BASE_URL: checkout goes through the built-in double.
    let double = match &config.paystack_base_url {
        Some(_) => None,
        None => Some(billing::double::Double::new(
            config.paystack_secret_key.expose(),
            site_url
                .join("paystack-double/")
                .context("the test double's URL")?,
            site_url
                .join("webhooks/paystack")
                .context("the webhook URL")?,
        )),
    };
    let config = Arc::new(config);
    let limit_clock = LimitClock::default();
    let state = AppState {
        site_url,
        paystack,
        leptos_options,
        db: db.clone(),
        config: config.clone(),
        metrics,
        started,
        gateways: gateways.clone(),
        shutdown: shutdown.clone(),
        sign_in_limiter: http::rate_limit::AttemptLimiter::new(&limit_clock),
        register_limiter: http::rate_limit::AttemptLimiter::new(&limit_clock),
        reauth_limiter: http::rate_limit::AttemptLimiter::new(&limit_clock),
        endpoint_limits: http::rate_limit::EndpointLimits::new(&limit_clock),
        password_work: auth::PasswordWork::new(config.web.password_hash_concurrency),
        live: http::live::LiveFeed::start(gateways, db.clone(), shutdown.clone()),
        database: database_watch::DatabaseWatch::default(),
    };
    let database_watch = tokio::spawn(state.database.clone().run(db.clone(), shutdown.clone()));
    let sessions = auth::DbSessionStore::new(&db);
    let periodic = Housekeeper::new(state.clone(), sessions.clone());
    if let Some(sender) = handles {
        // The caller may have gone away; the service runs regardless.
        let _ = sender.send(Handles {
            housekeeper: periodic.clone(),
            limit_clock,
        });
    }
    // the jobs run on dashboard nodes (one at a time, see `housekeeping`)
    let housekeeping = role.runs_web().then(|| tokio::spawn(periodic.run()));
    let app = match site {
        Some(site) => http::router(state, site.assets, sessions, double),
        None => http::gateway_router(state),
    };

    let mut node_tasks = Vec::new();
    if let Some(cluster) = &cluster {
        let mut addresses = vec![web_addr.to_string()];
        if let Some(g) = &gateway_status {
            addresses.extend([g.http_addr.to_string(), g.socks_addr.to_string()]);
            node_tasks.push(tokio::spawn(node::follow_changes(
                cluster.clone(),
                g.handle.clone(),
                shutdown.clone(),
            )));
        }
        node_tasks.push(tokio::spawn(node::report(
            cluster.clone(),
            config.clone(),
            gateway_status.clone(),
            addresses,
            shutdown.clone(),
        )));
    }

    let (http_proxy, socks5_proxy) = gateway_status.as_ref().map_or_else(
        || ("-".to_owned(), "-".to_owned()),
        |g| (g.http_addr.to_string(), g.socks_addr.to_string()),
    );
    tracing::info!(
        role = role.as_str(),
        listen = %format!("http://{web_addr}"),
        http_proxy = %http_proxy,
        socks5_proxy = %socks5_proxy,
        database = %db.backend(),
        cluster = %config.cluster.redis_url.as_ref().map_or("-", |_| config.cluster.name.as_str()),
        "AtlanticProxy is running"
    );

    let serve = web_listener::serve(
        listeners.web,
        app,
        config.web.clone(),
        config.trusted_proxies.clone(),
        shutdown.clone(),
    );
    let mut web_task = tokio::spawn(serve);

    tokio::select! {
        // Biased: the web task also ends *because of* the shutdown token; that is not a failure.
        biased;
        _ = shutdown.cancelled() => {}
        result = &mut web_task => {
            shutdown.cancel();
            if let Some(task) = gateway_task {
                let _ = task.await;
            }
            db.close().await;
            return match result {
                Ok(()) => Err(anyhow::anyhow!("the web server stopped unexpectedly")),
                Err(e) => Err(anyhow::Error::new(e).context("web server task failed")),
            };
        }
    }

    tracing::info!(
        grace_secs = config.shutdown_grace.as_secs(),
        "draining in-flight requests"
    );
    if tokio::time::timeout(config.shutdown_grace, &mut web_task)
        .await
        .is_err()
    {
        tracing::warn!("drain deadline passed: closing the remaining web connections");
        web_task.abort();
    }
    if let Some(task) = gateway_task {
        match task.await {
            Ok(()) => tracing::info!("gateway stopped; buffered usage flushed"),
            Err(error) => tracing::error!(%error, "gateway task failed"),
        }
    }
    if let Some(task) = housekeeping {
        let _ = task.await;
    }
    let _ = database_watch.await;
    for task in node_tasks {
        let _ = task.await;
    }
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The URL customers reach us at: the public URL, with the bound address when it names port
/// 0 or an unspecified host (tests and local runs).
fn site_url(public_url: &url::Url, bound: SocketAddr) -> url::Url {
    let unspecified = matches!(
        public_url.host(),
        Some(url::Host::Ipv4(ip)) if ip.is_unspecified()
    ) || matches!(public_url.host(), Some(url::Host::Ipv6(ip)) if ip.is_unspecified());
    if public_url.port_or_known_default() != Some(0) && !unspecified {
        return public_url.clone();
    }
    let ip = if bound.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        bound.ip()
    };
    url::Url::parse(&format!("http://{}/", SocketAddr::new(ip, bound.port())))
        .unwrap_or_else(|_| public_url.clone())
}

/// Runs `atlantic serve`: binds, then [`run`] until SIGINT or SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let listeners = Listeners::bind(&config).await?;
    let shutdown = shutdown::on_signal();
    run(config, listeners, shutdown).await
}
