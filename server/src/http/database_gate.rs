//! While the database does not answer (see [`crate::database_watch`]), requests that need it
//! get a clear 503 at once, with `Retry-After`, instead of a 500 or a wait for the
//! connection pool's timeout: a page for browsers, a problem document for the API. The
//! probes, `/metrics` and the static assets are not behind it; nor is the gateway.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use super::api_v1::problem::{Code, Problem};
use crate::state::AppState;

/// Seconds a client is asked to wait: the database is checked every second.
const RETRY_AFTER_SECS: u64 = 5;

const PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Briefly unavailable · AtlanticProxy</title></head><body>\
<h1>The dashboard is briefly unavailable</h1>\
<p>Our database is not answering. Your proxy credentials keep working meanwhile, and your \
traffic is still counted.</p>\
<p>This page will work again as soon as the database is back: try again in a few \
seconds.</p><p><a href=\"\">Try again</a></p></body></html>\n";

/// Dashboard pages, forms and server functions: an HTML page.
pub async fn pages(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.database.is_up() {
        return next.run(request).await;
    }
    unavailable_page()
}

/// The "briefly unavailable" page, 503 with `Retry-After`: also for a request whose session
/// or account could not be read in time while the watch still saw the database up.
pub fn unavailable_page() -> Response {
    with_retry_after((StatusCode::SERVICE_UNAVAILABLE, Html(PAGE)).into_response())
}

/// `/api/v1`: an RFC 9457 problem, `unavailable`.
pub async fn api(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.database.is_up() {
        return next.run(request).await;
    }
    Problem {
        retry_after: Some(RETRY_AFTER_SECS),
        ..Problem::new(
            Code::Unavailable,
            "the database is unavailable; try again in a few seconds",
        )
    }
    .into_response()
}

/// Webhooks: a bare 503, so that the sender delivers the event again later.
pub async fn webhooks(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.database.is_up() {
        return next.run(request).await;
    }
    with_retry_after((StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response())
}

fn with_retry_after(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
