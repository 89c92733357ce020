//! The Leptos dashboard as routers by audience: the pages anyone may open, the pages for
//! signed-in customers, the server functions, and the fallback (static files and the error
//! page), all rendered with the same context (database, proxy endpoints, gateway hooks).
//!
//! `leptos_axum` registers pages from one route list taken from `app::App`, and the server
//! functions with every call; the list is split here by [`OPEN_PAGES`], and each page router
//! lists the server functions as excluded so that they are registered once, on their own
//! router.

use std::sync::{Arc, OnceLock};

use app::Assets;
use app::api::billing::ssr::PaystackHealth;
use app::api::security::ssr::TotpEnrolment;
use app::api::servers::ssr::{ClusterNodes, ExitLive, ExitTelemetry, NodeLive};
use app::api::session::ssr::{GatewayRefresh, ProxyEndpoints, SessionEnder};
use app::api::usage::Reconciliation;
use app::api::usage::ssr::ReconciliationSource;
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{
    AxumRouteListing, LeptosRoutes, file_and_error_handler_with_context,
    generate_route_list_with_exclusions,
};

use super::csp;
use crate::state::AppState;

/// The pages a signed-out visitor may open: signing in and registering. The one path rule
/// left: Leptos describes every page in one `<Router>`, so the audience of a page is decided
/// by its path here.
const OPEN_PAGES: [&str; 3] = ["/login", "/login/code", "/register"];

/// The dashboard's routers, before the audience's layers are put on them.
pub struct Dashboard {
    /// Pages anyone may open ([`OPEN_PAGES`]).
    pub open_pages: Router<AppState>,
    /// Every other page: for signed-in customers.
    pub signed_in_pages: Router<AppState>,
    /// The server functions (`/api/…`); each decides itself what a caller may see.
    pub server_fns: Router<AppState>,
    /// No routes, only the fallback: static files from the site root, or the error page.
    pub fallback: Router<AppState>,
}

impl Dashboard {
    /// Builds the routers over `state`, rendering with the hashed `assets`.
    pub fn new(state: &AppState, assets: Assets) -> Dashboard {
        let context = render_context(state);
        let page_assets = assets.clone();
        let options = state.leptos_options.clone();
        let shell = move || app::shell(options.clone(), page_assets.clone());
        let fallback_shell = move |options| app::shell(options, assets.clone());

        let server_fn_paths: Vec<String> = leptos::server_fn::axum::server_fn_paths()
            .map(|(path, _)| path.to_owned())
            .collect();
        // Every page, and the server functions as exclusions: a page router built from this
        // list registers no server function.
        let listed = route_listing(&server_fn_paths);
        let (open, signed_in): (Vec<AxumRouteListing>, Vec<AxumRouteListing>) = listed
            .iter()
            .filter(|r| !server_fn_paths.iter().any(|p| p == r.path()))
            .cloned()
            .partition(|r| OPEN_PAGES.contains(&r.path()));
        let exclusions: Vec<AxumRouteListing> = listed
            .into_iter()
            .filter(|r| server_fn_paths.iter().any(|p| p == r.path()))
            .collect();
        let with_exclusions = |pages: Vec<AxumRouteListing>| {
            pages
                .into_iter()
                .chain(exclusions.iter().cloned())
                .collect::<Vec<_>>()
        };

        Dashboard {
            open_pages: Router::new().leptos_routes_with_context(
                state,
                with_exclusions(open),
                context.clone(),
                shell.clone(),
            ),
            signed_in_pages: Router::new().leptos_routes_with_context(
                state,
                with_exclusions(signed_in),
                context.clone(),
                shell.clone(),
            ),
            // No pages: only the server functions.
            server_fns: Router::new().leptos_routes_with_context(
                state,
                Vec::new(),
                context.clone(),
                shell,
            ),
            fallback: Router::new().fallback(file_and_error_handler_with_context::<AppState, _>(
                context,
                fallback_shell,
            )),
        }
    }
}

/// Every page of `app::App`, with the server functions at `server_fn_paths` as exclusions,
/// listed once per process. Listing renders the whole app with resource loading switched off
/// through a flag that is global to the process (leptos_server's `SuppressResourceLoad`, set
/// by `RouteList::generate`): a page that another service of the same process renders in
/// that moment never loads its resources, and its response body never ends (the integration
/// tests run several services in one process). The list is the same for every service, so it
/// is made once, before any of them can render a page.
fn route_listing(server_fn_paths: &[String]) -> Vec<AxumRouteListing> {
    static LISTED: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    LISTED
        .get_or_init(|| {
            generate_route_list_with_exclusions(app::App, Some(server_fn_paths.to_vec()))
        })
        .clone()
}

/// What pages and server functions read from context while rendering.
fn render_context(state: &AppState) -> impl Fn() + Clone + Send + Sync + 'static {
    let db = state.db.clone();
    let endpoints = proxy_endpoints(state);
    let gateways = state.gateways.clone();
    let refresh = GatewayRefresh(Arc::new(move || gateways.refresh_now()));
    let gateways = state.gateways.clone();
    let session_ender = SessionEnder(Arc::new(move |account_id, session: String| {
        let gateways = gateways.clone();
        Box::pin(async move {
            gateways
                .end_session(account_id, &session)
                .await
                .map_err(|e| e.to_string())
        })
    }));
    let telemetry = exit_telemetry(&state.live);
    let reconciliation = reconciliation(&state.live);
    let nodes = cluster_nodes(&state.gateways);
    let paystack = state.paystack.clone();
    let paystack_health = PaystackHealth(Arc::new(move || paystack.is_unavailable()));
    let totp_enrolment = TotpEnrolment(Arc::new(|secret: &str, email: &str| {
        crate::auth::totp::enrolment(secret, email).map_err(|e| e.to_string())
    }));
    move || {
        csp::nonce_context();
        provide_context(db.clone());
        provide_context(endpoints.clone());
        provide_context(refresh.clone());
        provide_context(session_ender.clone());
        provide_context(paystack_health.clone());
        provide_context(totp_enrolment.clone());
        provide_context(telemetry.clone());
        provide_context(reconciliation.clone());
        provide_context(nodes.clone());
    }
}

/// Where customers send proxy traffic: the public URL's host with the gateway's ports.
pub(super) fn proxy_endpoints(state: &AppState) -> ProxyEndpoints {
    let host = state
        .config
        .public_url
        .host_str()
        .unwrap_or("127.0.0.1")
        .to_string();
    ProxyEndpoints {
        http: format!("{host}:{}", state.gateways.http_addr.port()),
        socks: format!("{host}:{}", state.gateways.socks_addr.port()),
    }
}

/// The Servers page's list of the cluster's nodes (none for a process on its own).
pub(super) fn cluster_nodes(gateways: &crate::gateways::Gateways) -> ClusterNodes {
    let gateways = gateways.clone();
    ClusterNodes(Arc::new(move || {
        let gateways = gateways.clone();
        Box::pin(async move {
            let nodes = gateways.nodes().await?;
            Some(
                nodes
                    .into_iter()
                    .map(|n| NodeLive {
                        node: n.report.node,
                        role: n.report.role.as_str().to_owned(),
                        region: n.report.region,
                        version: n.report.version,
                        addresses: n.report.addresses,
                        open_connections: n.report.open_connections,
                        load: n.report.load,
                        up: n.up,
                        shared_state: n.report.shared_state,
                        reported_at_ms: n.report.reported_at_ms,
                    })
                    .collect(),
            )
        })
    }))
}

/// The Servers page's live view of the exits: the latest live snapshot (every gateway's, in a
/// cluster).
/// How far the gateways' metered usage is in the store, from the live statistics.
fn reconciliation(live: &crate::http::live::LiveFeed) -> ReconciliationSource {
    let live = live.clone();
    ReconciliationSource(Arc::new(move || {
        let r = live.latest().reconciliation.clone();
        Reconciliation {
            drained_at_ms: r.drained_at_ms,
            drift: r
                .accounts
                .iter()
                .map(|a| (a.account_id, a.bytes, a.oldest_hour_ms))
                .collect(),
        }
    }))
}

pub(super) fn exit_telemetry(live: &crate::http::live::LiveFeed) -> ExitTelemetry {
    let live = live.clone();
    ExitTelemetry(Arc::new(move || {
        live.latest()
            .exits
            .iter()
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
