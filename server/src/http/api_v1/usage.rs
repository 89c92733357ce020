//! `GET /usage`: traffic per hour or day, as the Usage page counts it; `GET /usage/countries`
//! and `GET /usage/sessions`: the same window's traffic per exit country and per sticky
//! session. All three check their window alike ([`checked_window`]).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use store::HOUR_MS;
use utoipa::{IntoParams, ToSchema};

use super::auth::ApiCaller;
use super::problem::{ApiResult, Problem, bad_request, invalid};
use super::responses::{BadQuery, Reads};
use crate::state::AppState;

/// Longest window a usage route answers for.
const USAGE_MAX_DAYS: i64 = 31;

/// Which hours or days.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    /// `hour` (default) or `day` (days in `tz`).
    #[param(pattern = "^(hour|day)$")]
    granularity: Option<String>,
    /// Start, RFC 3339 (`2026-11-01T00:00:00Z`); rounded down to the hour. Default: 24 hours
    /// (hourly) or 30 days (daily) before `to`.
    #[param(format = DateTime)]
    from: Option<String>,
    /// End, RFC 3339, exclusive; rounded up to the hour. Default: now. At most 31 days after
    /// `from`.
    #[param(format = DateTime)]
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

/// A usage route's window, checked: its zone, and the whole hours it covers.
struct Checked {
    /// The IANA zone days and local times are in.
    tz: String,
    /// Whole hours: the one holding `from` to the one holding the last instant before `to`.
    window: app::api::zone::Window,
}

/// Checks `from`, `to` and `tz` as every usage route does: RFC 3339 times, `from` before
/// `to` (default: `default_span` before `to`, which defaults to now), at most
/// [`USAGE_MAX_DAYS`] of whole hours, a known zone (default: the account's).
fn checked_window(
    caller: &ApiCaller,
    from: Option<&str>,
    to: Option<&str>,
    tz: Option<String>,
    default_span: i64,
) -> Result<Checked, Problem> {
    let tz = tz.unwrap_or_else(|| caller.account.time_zone.clone());
    if !app::api::zone::is_known(&tz) {
        return Err(invalid(format!("{tz:?} is not an IANA time zone")));
    }
    let to = match to {
        Some(text) => instant("to", text)?,
        None => store::now_ms(),
    };
    let from = match from {
        Some(text) => instant("from", text)?,
        None => to - default_span,
    };
    if from >= to {
        return Err(invalid("from must be before to"));
    }
    let window = app::api::zone::Window {
        from: store::usage::hour_floor(from),
        to: store::usage::hour_floor(to - 1) + HOUR_MS,
    };
    if window.to - window.from > USAGE_MAX_DAYS * 24 * HOUR_MS {
        return Err(invalid(format!(
            "the window is at most {USAGE_MAX_DAYS} days"
        )));
    }
    Ok(Checked { tz, window })
}

/// Traffic per hour or day, as the Usage page and its CSV export count it.
#[utoipa::path(
    get, path = "/usage", tag = "usage", security(("token" = [])),
    params(UsageParams),
    responses(
        (status = 200, description = "Usage", body = UsageView),
        (status = 422, description = "A bad granularity, time, window or zone", body = Problem, content_type = "application/problem+json"),
        BadQuery,
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
    let span = if by_day { 30 * 24 } else { 24 } * HOUR_MS;
    let Checked { tz, window } = checked_window(
        &caller,
        params.from.as_deref(),
        params.to.as_deref(),
        params.tz,
        span,
    )?;
    let tz = zone::parse(&tz);
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

/// Which hours, for a breakdown.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BreakdownParams {
    /// Start, RFC 3339 (`2026-11-01T00:00:00Z`); rounded down to the hour. Default: 24 hours
    /// before `to`.
    #[param(format = DateTime)]
    from: Option<String>,
    /// End, RFC 3339, exclusive; rounded up to the hour. Default: now. At most 31 days after
    /// `from`.
    #[param(format = DateTime)]
    to: Option<String>,
    /// IANA time zone the window is reported in. Default: the account's.
    tz: Option<String>,
}

/// Which hours, and how many sessions.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionBreakdownParams {
    /// Start, RFC 3339 (`2026-11-01T00:00:00Z`); rounded down to the hour. Default: 24 hours
    /// before `to`.
    #[param(format = DateTime)]
    from: Option<String>,
    /// End, RFC 3339, exclusive; rounded up to the hour. Default: now. At most 31 days after
    /// `from`.
    #[param(format = DateTime)]
    to: Option<String>,
    /// IANA time zone the window is reported in. Default: the account's.
    tz: Option<String>,
    /// Most sessions listed, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// Most sessions `/usage/sessions` lists.
const SESSIONS_MAX_LIMIT: i64 = 100;
/// Sessions `/usage/sessions` lists unless `limit` says otherwise (the Usage page's top).
const SESSIONS_DEFAULT_LIMIT: i64 = app::api::usage::TOP_SESSIONS;

/// One country's traffic over the window.
#[derive(Serialize, ToSchema)]
pub struct CountryUsageView {
    /// ISO country code of the exits, lower case; `""` for direct egress or an unknown one.
    country: String,
    /// Bytes toward destinations.
    bytes_up: i64,
    /// Bytes delivered.
    bytes_down: i64,
    /// Requests.
    requests: i64,
    /// Failed requests.
    errors: i64,
}

/// Traffic per exit country over a window.
#[derive(Serialize, ToSchema)]
pub struct UsageByCountryView {
    /// The zone the window is reported in.
    time_zone: String,
    /// Window start, epoch milliseconds (whole hour).
    from_ms: i64,
    /// Window end, epoch milliseconds, exclusive (whole hour).
    to_ms: i64,
    /// Most bytes first; countries without traffic are absent.
    countries: Vec<CountryUsageView>,
}

/// One sticky session's traffic over the window.
#[derive(Serialize, ToSchema)]
pub struct SessionUsageView {
    /// The session id from the proxy username (`-session-ID`).
    session: String,
    /// Bytes toward destinations.
    bytes_up: i64,
    /// Bytes delivered.
    bytes_down: i64,
    /// Requests.
    requests: i64,
    /// Failed requests.
    errors: i64,
}

/// Traffic per sticky session over a window, the busiest first.
#[derive(Serialize, ToSchema)]
pub struct UsageBySessionView {
    /// The zone the window is reported in.
    time_zone: String,
    /// Window start, epoch milliseconds (whole hour).
    from_ms: i64,
    /// Window end, epoch milliseconds, exclusive (whole hour).
    to_ms: i64,
    /// Most bytes first, at most `limit`; traffic without a session is not listed.
    sessions: Vec<SessionUsageView>,
}

/// Traffic per exit country, as the Usage page's country table counts it.
#[utoipa::path(
    get, path = "/usage/countries", tag = "usage", security(("token" = [])),
    params(BreakdownParams),
    responses(
        (status = 200, description = "Usage per country", body = UsageByCountryView),
        (status = 422, description = "A bad time, window or zone", body = Problem, content_type = "application/problem+json"),
        BadQuery,
        Reads,
    )
)]
pub async fn usage_by_country(
    State(state): State<AppState>,
    caller: ApiCaller,
    params: Result<Query<BreakdownParams>, QueryRejection>,
) -> ApiResult<UsageByCountryView> {
    let Query(params) = params.map_err(|e| bad_request(e.body_text()))?;
    let Checked { tz, window } = checked_window(
        &caller,
        params.from.as_deref(),
        params.to.as_deref(),
        params.tz,
        24 * HOUR_MS,
    )?;
    let rows = store::usage::by_country(&state.db, caller.account.id, window.from, window.to)
        .await
        .map_err(|e| Problem::store(&e))?;
    Ok(Json(UsageByCountryView {
        time_zone: tz,
        from_ms: window.from,
        to_ms: window.to,
        countries: rows
            .into_iter()
            .map(|r| CountryUsageView {
                country: r.country,
                bytes_up: r.totals.bytes_up,
                bytes_down: r.totals.bytes_down,
                requests: r.totals.requests,
                errors: r.totals.errors,
            })
            .collect(),
    }))
}

/// Traffic per sticky session, as the Usage page's session table counts it.
#[utoipa::path(
    get, path = "/usage/sessions", tag = "usage", security(("token" = [])),
    params(SessionBreakdownParams),
    responses(
        (status = 200, description = "Usage per session", body = UsageBySessionView),
        (status = 422, description = "A bad time, window, zone or limit", body = Problem, content_type = "application/problem+json"),
        BadQuery,
        Reads,
    )
)]
pub async fn usage_by_session(
    State(state): State<AppState>,
    caller: ApiCaller,
    params: Result<Query<SessionBreakdownParams>, QueryRejection>,
) -> ApiResult<UsageBySessionView> {
    let Query(params) = params.map_err(|e| bad_request(e.body_text()))?;
    let limit = params.limit.unwrap_or(SESSIONS_DEFAULT_LIMIT);
    if !(1..=SESSIONS_MAX_LIMIT).contains(&limit) {
        return Err(invalid(format!("limit is 1 to {SESSIONS_MAX_LIMIT}")));
    }
    let Checked { tz, window } = checked_window(
        &caller,
        params.from.as_deref(),
        params.to.as_deref(),
        params.tz,
        24 * HOUR_MS,
    )?;
    let rows =
        store::usage::by_session(&state.db, caller.account.id, window.from, window.to, limit)
            .await
            .map_err(|e| Problem::store(&e))?;
    Ok(Json(UsageBySessionView {
        time_zone: tz,
        from_ms: window.from,
        to_ms: window.to,
        sessions: rows
            .into_iter()
            .map(|r| SessionUsageView {
                session: r.session,
                bytes_up: r.totals.bytes_up,
                bytes_down: r.totals.bytes_down,
                requests: r.totals.requests,
                errors: r.totals.errors,
            })
            .collect(),
    }))
}
