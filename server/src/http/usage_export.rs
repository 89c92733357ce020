//! `GET /usage.csv?range=24h|7d|30d&by=hour|day`: the Usage page's table as CSV, one row per
//! hour or day (in the account's time zone), with zeros where nothing was used.

use app::api::traffic::Range;
use app::api::zone;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::SignedIn;
use crate::state::AppState;

/// The export route, throttled as a costly read (it aggregates a month of usage).
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new().route(
        "/usage.csv",
        get(export).route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::rate_limit::costly,
        )),
    )
}

#[derive(serde::Deserialize)]
struct Params {
    range: Option<String>,
    by: Option<String>,
}

async fn export(
    State(state): State<AppState>,
    viewer: SignedIn,
    Query(params): Query<Params>,
) -> Response {
    let range = params
        .range
        .as_deref()
        .map_or(Range::Month, Range::from_key);
    let by_day = match params.by.as_deref() {
        Some("day") => true,
        Some("hour") => false,
        None => range == Range::Month,
        Some(_) => return (StatusCode::BAD_REQUEST, "`by` is hour or day\n").into_response(),
    };
    let account = viewer.account_id();
    let tz = zone::of(&state.db, account).await;
    let window = zone::Window::last(range, store::now_ms());
    let series = match store::usage::hourly_series(&state.db, account, window.from, window.to).await
    {
        Ok(series) => series,
        Err(error) => {
            tracing::error!(%error, "exporting usage failed");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "usage unavailable right now\n",
            )
                .into_response();
        }
    };
    let mut csv = String::from("start_utc,local,time_zone,bytes_up,bytes_down,requests,errors\n");
    for b in window.buckets(&series, by_day, tz) {
        let start = zone::format(zone::parse("UTC"), b.start, "%Y-%m-%dT%H:%M:%SZ");
        let local = zone::date_time(tz, b.start);
        csv.push_str(&format!(
            "{start},{local},{},{},{},{},{}\n",
            tz.name(),
            b.bytes_up,
            b.bytes_down,
            b.requests,
            b.errors
        ));
    }
    let filename = format!(
        "attachment; filename=\"atlantic-usage-{}-{}.csv\"",
        range.key(),
        if by_day { "daily" } else { "hourly" }
    );
    let mut response = csv.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&filename) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
