//! The state every handler shares.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use metrics_exporter_prometheus::PrometheusHandle;
use store::Db;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::http::rate_limit::AttemptLimiter;

/// Shared, cheaply cloned state of the running service.
#[derive(Clone)]
pub struct AppState {
    /// Leptos' rendering options (site root, asset names).
    pub leptos_options: LeptosOptions,
    /// The database.
    pub db: Db,
    /// The validated configuration.
    pub config: Arc<Config>,
    /// Where customers reach us (the public URL, or the bound address in local runs).
    pub site_url: url::Url,
    /// The Paystack client (Paystack's API, or the built-in double in development).
    pub paystack: crate::billing::paystack::Paystack,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// When the service started (for uptime).
    pub started: Instant,
    /// The gateways: this process's, the cluster's, or both.
    pub gateways: crate::gateways::Gateways,
    /// Cancelled when the service begins shutting down (then `/ready` answers 503).
    pub shutdown: CancellationToken,
    /// Brute-force limits on sign-in.
    pub sign_in_limiter: AttemptLimiter,
    /// Brute-force limits on registration.
    pub register_limiter: AttemptLimiter,
    /// Brute-force limits on codes and passwords proving it is still the owner: the second
    /// sign-in step, turning 2FA off, the current password on a password change.
    pub reauth_limiter: AttemptLimiter,
    /// Per-endpoint request limits (sign-in, API, webhooks, writes, costly reads).
    pub endpoint_limits: crate::http::rate_limit::EndpointLimits,
    /// `/ws/live`'s shared snapshots and per-account socket counts.
    pub live: crate::http::live::LiveFeed,
    /// The cap on argon2 work at once (`ATLANTIC_PASSWORD_HASH_CONCURRENCY`).
    pub password_work: crate::auth::PasswordWork,
    /// Whether the database answers (checked each second).
    pub database: crate::database_watch::DatabaseWatch,
}

/// What the web side knows of the in-process gateway.
#[derive(Clone)]
pub struct GatewayStatus {
    /// The HTTP proxy's bound address.
    pub http_addr: SocketAddr,
    /// The SOCKS5 proxy's bound address.
    pub socks_addr: SocketAddr,
    /// Live statistics (cheap snapshots) and on-demand directory refresh.
    pub handle: proxy::GatewayHandle,
    /// Cancelled when the gateway's accept loops have stopped.
    pub stopped: CancellationToken,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
