//! The public REST API, `/api/v1`: JSON, authenticated by personal access tokens
//! (`Authorization: Bearer atl_…`) only, so no session or CSRF layer applies here and a
//! session cookie alone gets 401. Errors are problem details ([`problem`]); every
//! authenticated route carries `X-RateLimit-*` headers. The OpenAPI 3.1 document is generated
//! from the handlers' annotations (utoipa) and served at `/api/v1/openapi.json`.
//!
//! Every handler reuses what the dashboard uses: the store's functions and the same checks
//! (the allowlist's in [`crate::http::account`], the usage buckets of `app::api::zone`, the
//! Servers page's rows of `app::api::servers`).

mod account;
mod activity;
mod admin;
mod allowlist;
pub mod auth;
mod credentials;
mod docs;
pub mod problem;
mod responses;
mod sessions;
mod usage;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::problem::{Code, Problem};
use crate::state::AppState;

/// Where the API is mounted.
pub const PREFIX: &str = "/api/v1";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "AtlanticProxy API",
        version = "1",
        description = "The public REST API of AtlanticProxy. Authenticate with a personal \
                       access token from Settings › API tokens: `Authorization: Bearer atl_…`. \
                       Errors are RFC 9457 problem details; see docs/api.md."
    ),
    modifiers(&BearerToken),
    components(schemas(Problem))
)]
struct ApiDoc;

/// Declares the bearer-token security scheme every route uses.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The API's routes with their layers, and the OpenAPI document describing them.
fn routes(state: &AppState) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    use utoipa_axum::router::UtoipaMethodRouterExt;
    let read = || from_fn_with_state(state.clone(), auth::read);
    let write = || from_fn_with_state(state.clone(), auth::write);
    let costly = || from_fn_with_state(state.clone(), auth::costly);
    let admin = || from_fn_with_state(state.clone(), auth::admin);
    let v1 = OpenApiRouter::new()
        .routes(routes!(account::account).layer(read()))
        .routes(routes!(credentials::credentials).layer(read()))
        .routes(routes!(credentials::regenerate_credentials).layer(write()))
        .routes(routes!(allowlist::list_allowlist).layer(read()))
        .routes(routes!(allowlist::add_to_allowlist).layer(write()))
        .routes(routes!(allowlist::remove_from_allowlist).layer(write()))
        .routes(routes!(activity::activity).layer(read()))
        .routes(routes!(sessions::list_sessions).layer(read()))
        .routes(routes!(sessions::end_session).layer(write()))
        .routes(routes!(usage::usage).layer(costly()))
        .routes(routes!(usage::usage_by_country).layer(costly()))
        .routes(routes!(usage::usage_by_session).layer(costly()))
        .routes(routes!(admin::admin_exits).layer(admin()))
        .routes(routes!(admin::admin_nodes).layer(admin()));
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(PREFIX, v1)
        .split_for_parts();
    let router = router
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(state.clone(), auth::authenticate));
    (router, doc)
}

/// The document as served and committed (`docs/openapi.json`): pretty JSON, newline at the end.
fn render(doc: &utoipa::openapi::OpenApi) -> String {
    let mut json = doc
        .to_pretty_json()
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    json.push('\n');
    // utoipa 5 writes a response link's `operationId` as `operation_id`, which OpenAPI
    // readers (schemathesis among them) do not know; no other key is spelt so.
    json.replace("\"operation_id\": ", "\"operationId\": ")
}

/// `/api/v1`: the authenticated routes, the OpenAPI document and its HTML rendering (no
/// token needed for either), and a problem for every other path under the prefix. Nothing is
/// cached.
pub fn router(state: &AppState) -> Router<AppState> {
    let (api, doc) = routes(state);
    let document: Arc<str> = Arc::from(render(&doc));
    let page: Arc<str> = Arc::from(docs::render(
        &serde_json::from_str(&document).unwrap_or_default(),
    ));
    let page = get(move || {
        let page = Arc::clone(&page);
        async move { axum::response::Html(page.to_string()) }
    });
    let stylesheet = get(|| async {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            )],
            docs::CSS,
        )
    });
    let openapi = get(move || {
        let document = Arc::clone(&document);
        async move {
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                document.to_string(),
            )
        }
    });
    Router::new()
        .route(&format!("{PREFIX}/openapi.json"), openapi)
        .route(&format!("{PREFIX}/docs"), page)
        .route(docs::STYLESHEET, stylesheet)
        .route(PREFIX, any(not_found))
        .route(&format!("{PREFIX}/{{*rest}}"), any(not_found))
        .merge(api)
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}

async fn not_found() -> Response {
    Problem::new(
        Code::NotFound,
        "no such API route; see /api/v1/openapi.json",
    )
    .into_response()
}

async fn method_not_allowed() -> Response {
    Problem::new(
        Code::MethodNotAllowed,
        "this route does not take that method",
    )
    .into_response()
}
