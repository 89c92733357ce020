//! The web router: plain routes (health, metrics, assets) and the Leptos dashboard, wrapped in
//! the middleware every request passes through.

mod account;
mod admin;
mod assets;
mod auth;
pub(crate) mod client_ip;
mod csp;
mod csrf;
mod health;
mod internals_access;
pub(crate) mod live;
mod metrics;
mod observe;
mod preferences;
pub mod rate_limit;
mod usage_export;
mod viewer;

use std::time::Duration;

use app::Assets;
use app::api::billing::ssr::PaystackHealth;
use app::api::servers::ssr::{ExitLive, ExitTelemetry};
use app::api::session::ssr::{GatewayRefresh, ProxyEndpoints};
use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, file_and_error_handler_with_context, generate_route_list};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
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
    let routes = generate_route_list(app::App);
    let db = state.db.clone();
    let host = state
        .config
        .public_url
        .host_str()
        .unwrap_or("127.0.0.1")
        .to_string();
    let endpoints = ProxyEndpoints {
        http: format!("{host}:{}", state.gateway.http_addr.port()),
        socks: format!("{host}:{}", state.gateway.socks_addr.port()),
    };
    let handle = state.gateway.handle.clone();
    let refresh = GatewayRefresh(std::sync::Arc::new(move || handle.refresh_now()));
    let telemetry = exit_telemetry(&state.gateway.handle);
    let paystack = state.paystack.clone();
    let paystack_health = PaystackHealth(std::sync::Arc::new(move || paystack.is_unavailable()));
    let context = move || {
        csp::nonce_context();
        provide_context(db.clone());
        provide_context(endpoints.clone());
        provide_context(refresh.clone());
        provide_context(paystack_health.clone());
        provide_context(telemetry.clone());
    };
    let page_assets = assets.clone();
    let options = state.leptos_options.clone();
    let pages = move || app::shell(options.clone(), page_assets.clone());
    let fallback_shell = move |options| app::shell(options, assets.clone());

    let secure_cookies = state.config.environment == crate::config::Environment::Production;
    // Pages and server functions: signed-in only (but for sign-in and registration), with
    // sessions; every state-changing request must come from our own origin.
    let dashboard = Router::new()
        .leptos_routes_with_context(&state, routes, context.clone(), pages)
        .merge(auth::router())
        .merge(account::router())
        .merge(admin::router())
        .merge(crate::billing::router(&state))
        .merge(live::router())
        .merge(usage_export::router(&state))
        .merge(preferences::router())
        .route_layer(axum::middleware::from_fn(viewer::require_sign_in))
        .fallback(file_and_error_handler_with_context::<AppState, _>(
            context,
            fallback_shell,
        ))
        // Inside `identify`: signed-in API calls are also limited per account.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            viewer::identify,
        ))
        // Signed-in pages carry account data (Settings shows the proxy password): never cached.
        .layer(header_layer(header::CACHE_CONTROL, "no-store"))
        .layer(crate::auth::session_layer(sessions, secure_cookies))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::same_origin,
        ));

    let mut outer = Router::new();
    if let Some(double) = double {
        outer = outer.nest_service(crate::billing::double::MOUNT, double.router());
    }
    outer
        .merge(health::router())
        .merge(metrics::router())
        .nest("/pkg", assets::pkg_service(&state.config.site_root))
        .merge(dashboard)
        .layer(axum::middleware::from_fn(observe::record_metrics))
        .layer(
            ServiceBuilder::new()
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
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            strict_transport_security,
        ))
        .layer(axum::middleware::from_fn(csp::content_security_policy))
        .with_state(state)
}

/// The Servers page's live view of the exits, read from the running gateway.
fn exit_telemetry(handle: &proxy::GatewayHandle) -> ExitTelemetry {
    let handle = handle.clone();
    ExitTelemetry(std::sync::Arc::new(move || {
        handle
            .stats()
            .snapshot()
            .exits
            .into_iter()
            .map(|e| ExitLive {
                id: e.id,
                checked: e.last_check_passed.is_some(),
                healthy: e.healthy,
                active_connections: e.active_connections,
                latency_ms: e.latency_ms.map(|ms| ms.round() as i64),
                successes: e.successes,
                failures: e.failures,
            })
            .collect()
    }))
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
