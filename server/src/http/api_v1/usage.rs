//! `GET /usage`: traffic per hour or day, as the Usage page counts it.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use store::HOUR_MS;
use utoipa::{IntoParams, ToSchema};

use super::auth::ApiCaller;
use super::problem::{ApiResult, Problem, bad_request, invalid};
use super::responses::Reads;
use crate::state::AppState;

/// Longest window `/usage` answers for.
const USAGE_MAX_DAYS: i64 = 31;

/// Which hours or days.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    /// `hour` (default) or `day` (days in `tz`).
    granularity: Option<String>,
    /// Start, RFC 3339 (`2026-11-01T00:00:00Z`); rounded down to the hour. Default: 24 hours
    /// (hourly) or 30 days (daily) before `to`.
    from: Option<String>,
    /// End, RFC 3339, exclusive; rounded up to the hour. Default: now. At most 31 days after
    /// `from`.
    to: Option<String>,
    /// IANA time zone for days and local times. Default: the account's.
    tz: Option<String>,
}

/// Traffic of one hour or day.
#[derive(Serialize, ToSchema)]
pub struct UsageBucket {
    /// Start, RFC 3339 UTC.
    start: String,
    /// Start, epoch milliseconds.
    start_ms: i64,
    /// Start in `time_zone` (`2026-11-22 00:00`).
    local: String,
    /// Bytes toward destinations.
    bytes_up: i64,
    /// Bytes delivered.
    bytes_down: i64,
    /// Requests.
    requests: i64,
    /// Failed requests.
    errors: i64,
}

/// Traffic over a window, with zeros where there was none.
#[derive(Serialize, ToSchema)]
pub struct UsageView {
    /// `hour` or `day`.
    granularity: String,
    /// The zone days and local times are in.
    time_zone: String,
    /// Window start, epoch milliseconds (whole hour).
    from_ms: i64,
    /// Window end, epoch milliseconds, exclusive (whole hour).
    to_ms: i64,
    /// Oldest first.
    buckets: Vec<UsageBucket>,
}

fn instant(name: &str, text: &str) -> Result<i64, Problem> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc).timestamp_millis())
        .map_err(|_| {
            invalid(format!(
                "{name} is an RFC 3339 time, e.g. 2026-11-01T00:00:00Z"
            ))
        })
}

/// Traffic per hour or day, as the Usage page and its CSV export count it.
#[utoipa::path(
    get, path = "/usage", tag = "usage", security(("token" = [])),
    params(UsageParams),
    responses(
        (status = 200, description = "Usage", body = UsageView),
        (status = 422, description = "A bad granularity, time, window or zone", body = Problem, content_type = "application/problem+json"),
        Reads,
    )
)]
pub async fn usage(
    State(state): State<AppState>,
    caller: ApiCaller,
    params: Result<Query<UsageParams>, QueryRejection>,
) -> ApiResult<UsageView> {
    use app::api::zone;
    let Query(params) = params.map_err(|e| bad_request(e.body_text()))?;
    let by_day = match params.granularity.as_deref() {
        None | Some("hour") => false,
        Some("day") => true,
        Some(_) => return Err(invalid("granularity is hour or day")),
    };
    let tz_name = params
        .tz
        .unwrap_or_else(|| caller.account.time_zone.clone());
    if !zone::is_known(&tz_name) {
        return Err(invalid(format!("{tz_name:?} is not an IANA time zone")));
    }
    let tz = zone::parse(&tz_name);
    let to = match params.to.as_deref() {
        Some(text) => instant("to", text)?,
        None => store::now_ms(),
    };
    let from = match params.from.as_deref() {
        Some(text) => instant("from", text)?,
        None => to - if by_day { 30 * 24 } else { 24 } * HOUR_MS,
    };
    // Whole hours: the one holding `from` to the one holding the last instant before `to`.
    let window = zone::Window {
        from: store::usage::hour_floor(from),
        to: store::usage::hour_floor(to - 1) + HOUR_MS,
    };
    if from >= to {
        return Err(invalid("from must be before to"));
    }
    if window.to - window.from > USAGE_MAX_DAYS * 24 * HOUR_MS {
        return Err(invalid(format!(
            "the window is at most {USAGE_MAX_DAYS} days"
        )));
    }
    let series = store::usage::hourly_series(&state.db, caller.account.id, window.from, window.to)
        .await
        .map_err(|e| Problem::store(&e))?;
    let utc = zone::parse("UTC");
    let buckets = window
        .buckets(&series, by_day, tz)
        .into_iter()
        .map(|b| UsageBucket {
            start: zone::format(utc, b.start, "%Y-%m-%dT%H:%M:%SZ"),
            start_ms: b.start,
            local: zone::date_time(tz, b.start),
            bytes_up: b.bytes_up,
            bytes_down: b.bytes_down,
            requests: b.requests,
            errors: b.errors,
        })
        .collect();
    Ok(Json(UsageView {
        granularity: if by_day { "day" } else { "hour" }.to_owned(),
        time_zone: tz.name().to_owned(),
        from_ms: window.from,
        to_ms: window.to,
        buckets,
    }))
}
