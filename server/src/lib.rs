//! The AtlanticProxy service: configuration, the web application (dashboard, health, metrics),
//! the in-process gateway wired to the store, and the `atlantic` command line.
//!
//! [`run`] takes bound listeners and a shutdown token, so tests start the whole service on
//! port 0 and stop it deterministically.

mod activity;
mod auth;
mod billing;
pub mod cli;
pub mod config;
mod gateway;
mod housekeeping;
mod http;
mod provision;
mod quota_warnings;
mod seed;
mod shutdown;
mod site;
mod state;
pub mod telemetry;
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
pub use crate::config::{Config, Environment};
pub use crate::housekeeping::{Housekeeper, Report as HousekeepingReport};
use crate::state::AppState;

/// The three sockets the service listens on.
#[derive(Debug)]
pub struct Listeners {
    /// Dashboard, API, WebSocket, health and metrics.
    pub web: TcpListener,
    /// HTTP proxy (forward and CONNECT).
    pub http_proxy: TcpListener,
    /// SOCKS5 proxy.
    pub socks_proxy: TcpListener,
}

impl Listeners {
    /// Binds the configured addresses; the error names the variable whose address failed.
    pub async fn bind(config: &Config) -> anyhow::Result<Listeners> {
        async fn bind(var: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("{var}: cannot listen on {addr}"))
        }
        Ok(Listeners {
            web: bind("ATLANTIC_LISTEN", config.listen).await?,
            http_proxy: bind("ATLANTIC_HTTP_PROXY", config.http_proxy).await?,
            socks_proxy: bind("ATLANTIC_SOCKS_PROXY", config.socks_proxy).await?,
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
    run_with_housekeeper(config, listeners, shutdown, None).await
}

/// Like [`run`], and hands `housekeeper` a [`Housekeeper`] as soon as the service is built,
/// before it serves: tests run housekeeping with it when they need it instead of waiting
/// for its interval.
pub async fn run_with_housekeeper(
    config: Config,
    listeners: Listeners,
    shutdown: CancellationToken,
    housekeeper: Option<tokio::sync::oneshot::Sender<Housekeeper>>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let site = site::load(&config.site_root).map_err(anyhow::Error::msg)?;
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
    if config.environment == Environment::Development {
        seed::demo_if_empty(&db)
            .await
            .context("seeding demo data")?;
    }

    let web_addr = listeners.web.local_addr()?;
    let gateway = gateway::start(
        &config,
        &db,
        web_addr,
        listeners.http_proxy,
        listeners.socks_proxy,
    );
    let gateway_status = gateway.status.clone();
    let gateway_task = tokio::spawn(gateway.run(shutdown.clone()));

    let leptos_options = LeptosOptions::builder()
        .output_name(site.output_name.clone())
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
    let state = AppState {
        site_url,
        paystack,
        leptos_options,
        db: db.clone(),
        config: config.clone(),
        metrics: telemetry::metrics(),
        started,
        gateway: gateway_status.clone(),
        shutdown: shutdown.clone(),
        sign_in_limiter: http::rate_limit::AttemptLimiter::default(),
        register_limiter: http::rate_limit::AttemptLimiter::default(),
        reauth_limiter: http::rate_limit::AttemptLimiter::default(),
        endpoint_limits: http::rate_limit::EndpointLimits::default(),
        password_work: auth::PasswordWork::new(config.web.password_hash_concurrency),
        live: http::live::LiveFeed::start(gateway_status.handle.clone(), shutdown.clone()),
    };
    let sessions = auth::DbSessionStore::new(&db);
    let periodic = Housekeeper::new(state.clone(), sessions.clone());
    if let Some(sender) = housekeeper {
        // The caller may have gone away; the service runs regardless.
        let _ = sender.send(periodic.clone());
    }
    let housekeeping = tokio::spawn(periodic.run());
    let app = http::router(state, site.assets, sessions, double);

    tracing::info!(
        dashboard = %format!("http://{web_addr}"),
        http_proxy = %gateway_status.http_addr,
        socks5_proxy = %gateway_status.socks_addr,
        database = %db.backend(),
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
            let _ = gateway_task.await;
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
    match gateway_task.await {
        Ok(()) => tracing::info!("gateway stopped; buffered usage flushed"),
        Err(error) => tracing::error!(%error, "gateway task failed"),
    }
    let _ = housekeeping.await;
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
