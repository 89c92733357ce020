//! "Test my proxy" (Settings › Connect), the server's half:
//!
//! - `GET /probe/echo`: public, no session, tiny: `{"probe":"atlantic","ip":"…"}` with the
//!   address that reached it (trusted reverse proxies honoured, like every client address
//!   here); [`ECHO_PER_MINUTE`] a minute per source.
//! - the [`Prober`] the server function `test_proxy` runs: with the account's own proxy
//!   credentials and the builder's targeting, one request through the gateway address
//!   customers are told to use, to `ATLANTIC_PROBE_URL` or by default our own echo
//!   ([`client`]); the exit it reports looked up in the store; [`PROBES_PER_MINUTE`] a minute
//!   per account. The probe's bytes are metered like any of the account's traffic: it is
//!   their traffic, through the gateway with their credentials.
//!
//! The gateway never connects to the service's own web port (whatever the private-destination
//! rule says). So when the public URL is this machine (a local run, the tests), the default
//! target is the same echo served on a side loopback port of its own ([`side_echo`], started
//! at the first probe, stopped with the service); the gateway reaches it only with
//! `ATLANTIC_ALLOW_PRIVATE_DESTINATIONS`, which `cargo xtask run` sets.

mod client;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use app::api::probe::ssr::Prober;
use app::api::probe::{
    PROBES_PER_MINUTE, ProbeError, ProbeExit, ProbeReport, ProbeSpec, TOO_MANY_PROBES, hint,
};
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::OnceCell;
use url::Url;

use self::client::{Failure, Protocol, Seen, Target};
use crate::http::client_ip::{ClientIp, SourceKey};
use crate::state::AppState;

/// Echo answers a minute per source (probes of many accounts may leave through one exit).
pub const ECHO_PER_MINUTE: u32 = 300;
/// The path of the built-in echo on the web listener.
pub const ECHO_PATH: &str = "/probe/echo";
/// Keys a limiter holds before the idle ones are dropped.
const MAX_KEYS: usize = 10_000;

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

/// Takes one from `key`'s bucket; the whole seconds to wait when it is empty.
fn take<K: std::hash::Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Result<(), u64> {
    if limiter.len() > MAX_KEYS {
        limiter.retain_recent();
    }
    limiter.check_key(key).map_err(|denied| {
        let wait = denied.wait_time_from(DefaultClock::default().now());
        (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
    })
}

/// `GET /probe/echo`, public, with its own per-source limit.
pub fn echo_router() -> Router<AppState> {
    let limiter: Arc<DefaultKeyedRateLimiter<SourceKey>> =
        Arc::new(RateLimiter::keyed(per_minute(ECHO_PER_MINUTE)));
    Router::new().route(
        ECHO_PATH,
        get(move |ClientIp(ip): ClientIp| {
            let limiter = limiter.clone();
            async move { echo(&limiter, ip) }
        }),
    )
}

fn echo(limiter: &DefaultKeyedRateLimiter<SourceKey>, ip: IpAddr) -> Response {
    let mut response = match take(limiter, &SourceKey::of(ip)) {
        Ok(()) => axum::Json(serde_json::json!({"probe": "atlantic", "ip": ip.to_string()}))
            .into_response(),
        Err(secs) => {
            let mut refused = (
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many requests: try again in {secs} s\n"),
            )
                .into_response();
            refused
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            refused
        }
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The prober the `test_proxy` server function reaches through its request's extensions.
pub fn prober(state: &AppState) -> Prober {
    let limiter: Arc<DefaultKeyedRateLimiter<i64>> =
        Arc::new(RateLimiter::keyed(per_minute(PROBES_PER_MINUTE)));
    let side: Arc<OnceCell<Option<SocketAddr>>> = Arc::default();
    let state = state.clone();
    Prober(Arc::new(move |account, spec| {
        let state = state.clone();
        let limiter = limiter.clone();
        let side = side.clone();
        Box::pin(async move { probe(&state, &limiter, &side, account, spec).await })
    }))
}

/// Where probes go: `ATLANTIC_PROBE_URL`, or the echo at the public URL, or, when that is this
/// machine, the side echo.
async fn probe_url(state: &AppState, side: &OnceCell<Option<SocketAddr>>) -> Option<Url> {
    if let Some(url) = &state.config.probe_url {
        return Some(url.clone());
    }
    let url = state
        .site_url
        .join(ECHO_PATH.trim_start_matches('/'))
        .ok()?;
    if !is_this_machine(&url) {
        return Some(url);
    }
    let addr = (*side.get_or_init(|| side_echo(state)).await)?;
    Url::parse(&format!("http://{addr}{ECHO_PATH}")).ok()
}

/// Whether `url` names this machine (loopback, unspecified, `localhost`).
fn is_this_machine(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback() || ip.is_unspecified(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback() || ip.is_unspecified(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Serves the echo on a loopback port of its own until the service shuts down; its address.
async fn side_echo(state: &AppState) -> Option<SocketAddr> {
    let listener = match tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!(%error, "binding the probe's side echo failed");
            return None;
        }
    };
    let addr = listener.local_addr().ok()?;
    let app = echo_router()
        .with_state(state.clone())
        .into_make_service_with_connect_info::<SocketAddr>();
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(error) = served {
            tracing::warn!(%error, "the probe's side echo stopped");
        }
    });
    tracing::info!(%addr, "probe echo for local runs listening");
    Some(addr)
}

/// The gateway address customers are told to use, reachable from here (an unspecified
/// listen address is this machine).
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

fn failed(report: &mut ProbeReport, code: Option<&str>, message: impl Into<String>) {
    report.error = Some(ProbeError {
        code: code.map(str::to_owned),
        message: message.into(),
        hint: hint(code).to_owned(),
    });
}

/// The hint for a refusal that names no code (a SOCKS5 ruleset reply).
const UNNAMED_REFUSAL: &str = "SOCKS5 replies cannot say which rule refused: test over HTTP, \
                               whose answer names the exact reason.";

async fn probe(
    state: &AppState,
    limiter: &DefaultKeyedRateLimiter<i64>,
    side: &OnceCell<Option<SocketAddr>>,
    account: i64,
    spec: ProbeSpec,
) -> ProbeReport {
    let protocol = if spec.socks() {
        Protocol::Socks5
    } else {
        Protocol::Http
    };
    let mut report = ProbeReport {
        protocol: if spec.socks() { "socks5" } else { "http" }.to_owned(),
        ..ProbeReport::default()
    };
    if let Err(secs) = take(limiter, &account) {
        failed(
            &mut report,
            Some(TOO_MANY_PROBES),
            format!("Too many probes: try again in {secs} s."),
        );
        return report;
    }
    let Some(url) = probe_url(state, side).await else {
        failed(&mut report, None, "No probe target is configured.");
        return report;
    };
    report.target = url.to_string();
    let target = match Target::of(&url) {
        Ok(target) => target,
        Err(e) => {
            failed(&mut report, None, format!("The probe target {e}."));
            return report;
        }
    };
    let creds = match store::credentials::by_account(&state.db, store::AccountId(account)).await {
        Ok(Some(creds)) => creds,
        Ok(None) => {
            failed(
                &mut report,
                Some("auth_required"),
                "Your account has no proxy credentials yet: reload Settings.",
            );
            return report;
        }
        Err(error) => {
            tracing::error!(%error, "loading proxy credentials for a probe failed");
            failed(
                &mut report,
                None,
                "Your proxy credentials are unavailable right now.",
            );
            return report;
        }
    };
    let username = spec.username(&creds.username);
    let gateway = match protocol {
        Protocol::Http => state.gateways.http_addr,
        Protocol::Socks5 => state.gateways.socks_addr,
    };
    let scheme = match protocol {
        Protocol::Http => "http",
        Protocol::Socks5 => "socks5h",
    };
    let shown_host = crate::http::pages::proxy_endpoints(state);
    let shown_host = match protocol {
        Protocol::Http => shown_host.http,
        Protocol::Socks5 => shown_host.socks,
    };
    report.proxy_url = format!("{scheme}://{username}:••••••••@{shown_host}");
    let outcome = client::run(
        protocol,
        reachable(gateway),
        &username,
        &creds.secret,
        &target,
    )
    .await;
    match outcome {
        Ok(seen) => went_through(state, &mut report, protocol, seen).await,
        Err(failure) => explain(&mut report, failure),
    }
    report
}

/// Fills in what a probe that went through saw.
async fn went_through(state: &AppState, report: &mut ProbeReport, protocol: Protocol, seen: Seen) {
    report.connect_ms = Some(seen.connect_ms);
    report.first_byte_ms = Some(seen.first_byte_ms);
    match (seen.exit_id, protocol) {
        (Some(0), _) => {
            report.exit = Some(ProbeExit {
                id: 0,
                name: "direct egress".to_owned(),
                country: String::new(),
                city: None,
            });
            report.exit_note = Some(
                "The gateway connected directly (no exit matched as an upstream, or none is \
                 configured)."
                    .to_owned(),
            );
        }
        (Some(id), _) => match store::exits::by_id(&state.db, store::ExitId(id)).await {
            Ok(Some(exit)) => {
                report.exit = Some(ProbeExit {
                    id,
                    name: exit.name,
                    country: exit.country,
                    city: exit.city,
                })
            }
            Ok(None) => {
                report.exit_note = Some(format!("Exit #{id} (since removed)."));
            }
            Err(error) => {
                tracing::warn!(%error, "looking up a probe's exit failed");
                report.exit_note = Some(format!("Exit #{id}."));
            }
        },
        (None, Protocol::Socks5) => {
            report.exit_note =
                Some("SOCKS5 does not report the exit; the HTTP port does.".to_owned())
        }
        (None, Protocol::Http) => {
            report.exit_note = Some("The gateway did not report the exit.".to_owned())
        }
    }
    let echoed = (seen.status == 200)
        .then(|| serde_json::from_slice::<serde_json::Value>(&seen.body).ok())
        .flatten()
        .filter(|v| v["probe"] == "atlantic")
        .and_then(|v| v["ip"].as_str().map(str::to_owned));
    match echoed {
        Some(ip) => report.seen_ip = Some(ip),
        None => {
            report.status_line = Some(seen.status_line);
            let preview: String = String::from_utf8_lossy(&seen.body)
                .chars()
                .take(200)
                .collect();
            report.preview = Some(preview);
        }
    }
}

/// Turns a failure into the customer's error line and hint.
fn explain(report: &mut ProbeReport, failure: Failure) {
    match failure {
        Failure::Refused {
            code,
            said,
            retry_after,
        } => {
            let mut message = format!("The gateway refused the probe: {said}");
            if let Some(secs) = retry_after {
                message.push_str(&format!(" (retry after {secs} s)"));
            }
            failed(report, code.as_deref(), message);
            if code.is_none()
                && let Some(error) = &mut report.error
            {
                error.hint = UNNAMED_REFUSAL.to_owned();
            }
        }
        Failure::Gateway(detail) => failed(report, None, format!("The gateway: {detail}.")),
        Failure::Target(detail) => failed(
            report,
            None,
            format!("The tunnel opened, but the probe target: {detail}."),
        ),
        Failure::Timeout { stage } => failed(
            report,
            None,
            format!(
                "No answer within {} s ({stage}).",
                client::TOTAL_TIMEOUT.as_secs()
            ),
        ),
    }
}
