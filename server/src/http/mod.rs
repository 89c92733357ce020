//! The web router, built by audience so that every check applies by construction:
//!
//! - public, no session: the probes (`/health`, `/live`, `/ready`), the echo "Test my proxy"
//!   sends through the gateway (`/probe/echo`, its own limit per source, [`probe`]),
//!   `/pkg/*`, the Paystack test double in development, and Paystack's webhook
//!   (`/webhooks/paystack`: its own limit, no CSRF check: it is signed instead);
//! - the public REST API, `/api/v1` ([`api_v1`]): personal access tokens in
//!   `Authorization: Bearer` only, no session and no CSRF check (a cookie is never read, so
//!   there is nothing for another site to ride on), its own rate limits and problem details;
//! - operator: `/metrics` and `/health/detailed`, for loopback clients or the metrics token
//!   ([`internals_access`]);
//! - the browser's: everything with the session cookie, where every state-changing request
//!   must come from our own origin ([`csrf`]), nothing is cached, and the viewer is known
//!   ([`viewer::identify`]). Within it, by what the requests are: the sign-in steps (their own
//!   limit), the server functions (the API limit; each checks who is asking itself), the
//!   signed-in pages and the CSV export (a signed-out visitor is sent to `/login`), and the
//!   rest (the open pages, the form posts, whose handlers take [`SignedIn`] or an `Admin`,
//!   the billing callback, `/ws/live` and the fallback), where any state-changing request
//!   counts as a write.
//!
//! All of it is wrapped in the middleware every request passes through (request id, tracing,
//! panics, timeout, body limit, compression, security headers, metrics).

mod account;
mod admin;
pub(crate) mod api_v1;
mod assets;
mod auth;
mod billing;
pub(crate) mod client_ip;
mod csp;
mod csrf;
mod database_gate;
mod health;
mod internals_access;
pub(crate) mod live;
mod metrics;
mod observe;
mod pages;
mod preferences;
mod probe;
pub mod rate_limit;
mod usage_export;
mod viewer;
mod web_error;

use std::time::Duration;

use app::Assets;
use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{from_fn, from_fn_with_state};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::state::AppState;

/// Largest request body accepted (413 beyond).
const MAX_BODY: usize = 10 * 1024 * 1024;
/// How long one request may take before the client gets 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) use self::viewer::SignedIn;

/// Builds the whole web application; `double` is the Paystack test double to mount, if any.
pub fn router(
    state: AppState,
    assets: Assets,
    sessions: crate::auth::DbSessionStore,
    double: Option<crate::billing::double::Double>,
) -> Router {
    let mut public = Router::new()
        .merge(health::probes())
        .nest("/pkg", assets::pkg_service(&state.config.site_root))
        .merge(probe::echo_router())
        .merge(webhooks(&state));
    if let Some(double) = double {
        public = public.nest_service(crate::billing::double::MOUNT, double.router());
    }
    let routes = public
        .merge(api_v1::router(&state).layer(from_fn_with_state(state.clone(), database_gate::api)))
        .merge(operator(&state))
        .merge(
            browser(&state, assets, sessions)
                .layer(from_fn_with_state(state.clone(), database_gate::pages)),
        );
    with_common_layers(routes, state)
}

/// A gateway node's own small router (`--role gateway`): the probes, and `/metrics` and
/// `/health/detailed` for the operator; no dashboard.
pub fn gateway_router(state: AppState) -> Router {
    let routes = Router::new()
        .merge(health::probes())
        .merge(operator(&state));
    with_common_layers(routes, state)
}

/// Request ids, tracing, metrics, panics, body and time limits, security headers.
fn with_common_layers(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .layer(from_fn(observe::record_metrics))
        .layer(
            ServiceBuilder::new()
                // Credentials print as `Sensitive` in any debug output of the headers (API
                // tokens, session cookies, the metrics token); no layer logs headers anyway.
                .layer(SetSensitiveRequestHeadersLayer::new([
                    header::AUTHORIZATION,
                    header::COOKIE,
                    header::PROXY_AUTHORIZATION,
                ]))
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(observe::trace_layer())
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(CatchPanicLayer::custom(observe::panic_response))
                .layer(RequestBodyLimitLayer::new(MAX_BODY))
                .layer(CompressionLayer::new())
                .layer(header_layer(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .layer(header_layer(header::X_FRAME_OPTIONS, "DENY"))
                .layer(header_layer(
                    HeaderName::from_static("permissions-policy"),
                    "geolocation=(), camera=(), microphone=(), payment=(), usb=()",
                ))
                .layer(header_layer(
                    HeaderName::from_static("cross-origin-opener-policy"),
                    "same-origin",
                ))
                .layer(header_layer(
                    header::REFERRER_POLICY,
                    "strict-origin-when-cross-origin",
                ))
                // Innermost: its response body must be the routes' own (it builds the 408).
                .layer(TimeoutLayer::with_status_code(
                    axum::http::StatusCode::REQUEST_TIMEOUT,
                    REQUEST_TIMEOUT,
                )),
        )
        .layer(from_fn_with_state(state.clone(), strict_transport_security))
        .layer(from_fn(csp::content_security_policy))
        .with_state(state)
}

/// Paystack's webhook: no session and no CSRF check (Paystack signs it), its own limit.
fn webhooks(state: &AppState) -> Router<AppState> {
    billing::webhook_router()
        .layer(from_fn_with_state(state.clone(), database_gate::webhooks))
        .layer(from_fn_with_state(state.clone(), rate_limit::webhook))
        .layer(header_layer(header::CACHE_CONTROL, "no-store"))
}

/// `/metrics` and `/health/detailed`: loopback clients or the metrics token only.
fn operator(state: &AppState) -> Router<AppState> {
    metrics::router()
        .merge(health::report())
        .route_layer(from_fn_with_state(state.clone(), internals_access::require))
}

/// Everything a browser reaches with the session cookie: the dashboard, its server functions
/// and form posts.
fn browser(
    state: &AppState,
    assets: Assets,
    sessions: crate::auth::DbSessionStore,
) -> Router<AppState> {
    let dashboard = pages::Dashboard::new(state, assets);
    // Each sign-in step with its own bucket per source.
    let sign_in =
        auth::sign_in_router().route_layer(from_fn_with_state(state.clone(), rate_limit::sign_in));
    // Per source, and per account by plan once signed in.
    let server_fns = dashboard
        .server_fns
        .layer(axum::Extension(probe::prober(state)))
        .layer(from_fn_with_state(state.clone(), rate_limit::api));
    let signed_in = dashboard
        .signed_in_pages
        .merge(usage_export::router(state))
        .route_layer(from_fn(viewer::require_sign_in));
    let rest = dashboard
        .open_pages
        .merge(signed_in)
        .merge(auth::sign_out_router())
        .merge(account::router())
        .merge(admin::router())
        .merge(billing::router(state))
        .merge(live::router())
        .merge(preferences::router())
        .merge(dashboard.fallback)
        // Any state-changing request, on any route here or none: present and future write
        // routes alike. A layer, not a route layer, so that the 405 of a path's other methods
        // and the fallback count too.
        .layer(from_fn_with_state(state.clone(), rate_limit::writes));
    let secure_cookies = state.config.environment == crate::config::Environment::Production;
    // `rest` merged last: where a path is in both (`/login`: the page here, the sign-in post
    // above), the merged path answers other methods with rest's 405, which counts as a write.
    sign_in
        .merge(server_fns)
        .merge(rest)
        .layer(from_fn_with_state(state.clone(), viewer::identify))
        // Signed-in pages carry account data (Settings shows the proxy password): never cached.
        .layer(header_layer(header::CACHE_CONTROL, "no-store"))
        .layer(crate::auth::session_layer(sessions, secure_cookies))
        .layer(from_fn_with_state(state.clone(), csrf::same_origin))
}

/// `Strict-Transport-Security` in production, where the public URL must be https; never in
/// development, where it would pin a plain-http localhost to https in the browser.
async fn strict_transport_security(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    if state.config.environment == crate::config::Environment::Production {
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    response
}

fn header_layer(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}
