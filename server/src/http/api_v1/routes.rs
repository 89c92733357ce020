//! The API's handlers and their JSON types. Each reads the [`ApiCaller`] that
//! [`auth::authenticate`](super::auth::authenticate) put in the request, and only ever the
//! caller's own account: another account's object is 404, as if it did not exist.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::allowlist::{self, AllowlistError};
use store::{AllowlistEntryId, HOUR_MS, StoreError};
use utoipa::{IntoParams, ToSchema};

use super::auth::ApiCaller;
use super::problem::{Code, Problem};
use crate::http::account::check_allowlist_entry;
use crate::state::AppState;

type ApiResult<T> = Result<Json<T>, Problem>;

fn bad_request(detail: impl std::fmt::Display) -> Problem {
    Problem::new(Code::BadRequest, detail.to_string())
}

fn invalid(detail: impl Into<String>) -> Problem {
    Problem::new(Code::InvalidInput, detail)
}

// ---------------------------------------------------------------------------------------
// Account

/// The account, its plan and this period's quota.
#[derive(Serialize, ToSchema)]
pub struct AccountView {
    /// The account's id.
    id: i64,
    /// Its email.
    email: String,
    /// `customer` or `admin`.
    role: String,
    /// The IANA time zone of its dashboard (and of `/usage` by default).
    time_zone: String,
    /// The live plan, if any.
    plan: Option<PlanView>,
    /// The live plan's current period, if any.
    period: Option<PeriodView>,
    /// This period's bandwidth, if there is a plan.
    quota: Option<QuotaView>,
}

/// A plan's limits.
#[derive(Serialize, ToSchema)]
pub struct PlanView {
    /// Its name.
    name: String,
    /// Requests a second through the gateway.
    requests_per_second: i64,
    /// Concurrent connections.
    max_connections: i64,
    /// Bytes per period; `null` for unlimited.
    bandwidth_bytes: Option<i64>,
}

/// A billing period.
#[derive(Serialize, ToSchema)]
pub struct PeriodView {
    /// Start, epoch milliseconds.
    start_ms: i64,
    /// End, epoch milliseconds.
    end_ms: i64,
}

/// Bandwidth used and left this period.
#[derive(Serialize, ToSchema)]
pub struct QuotaView {
    /// Bytes used (as flushed by the gateways, about once a second).
    used_bytes: i64,
    /// The plan's bandwidth; `null` for unlimited.
    limit_bytes: Option<i64>,
    /// What is left; `null` for unlimited.
    left_bytes: Option<i64>,
}

/// The token's account.
#[utoipa::path(
    get, path = "/account", tag = "account", security(("token" = [])),
    responses(
        (status = 200, description = "The account", body = AccountView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn account(State(state): State<AppState>, caller: ApiCaller) -> ApiResult<AccountView> {
    let account = &caller.account;
    let period = app::api::usage::ssr::period_use(&state.db, account.id, store::now_ms())
        .await
        .map_err(|e| Problem::store(&e))?;
    let (plan, period, quota) = match period {
        Some(p) => {
            let limit = p.plan.as_ref().and_then(|plan| plan.bandwidth_bytes);
            (
                p.plan.map(|plan| PlanView {
                    name: plan.name,
                    requests_per_second: plan.requests_per_second,
                    max_connections: plan.max_connections,
                    bandwidth_bytes: plan.bandwidth_bytes,
                }),
                Some(PeriodView {
                    start_ms: p.subscription.period_start,
                    end_ms: p.subscription.period_end,
                }),
                Some(QuotaView {
                    used_bytes: p.used_bytes,
                    limit_bytes: limit,
                    left_bytes: limit.map(|l| (l - p.used_bytes).max(0)),
                }),
            )
        }
        None => (None, None, None),
    };
    Ok(Json(AccountView {
        id: account.id.get(),
        email: account.email.clone(),
        role: account.role.as_str().to_owned(),
        time_zone: account.time_zone.clone(),
        plan,
        period,
        quota,
    }))
}

// ---------------------------------------------------------------------------------------
// Proxy credentials

/// The proxy credentials and where to send traffic.
#[derive(Serialize, ToSchema)]
pub struct CredentialsView {
    /// The proxy username (targeting parameters are appended with `-`).
    username: String,
    /// The proxy password.
    password: String,
    /// `host:port` of the HTTP proxy.
    http_proxy: String,
    /// `host:port` of the SOCKS5 proxy.
    socks_proxy: String,
}

fn credentials_view(
    state: &AppState,
    creds: store::credentials::ProxyCredentials,
) -> CredentialsView {
    let endpoints = crate::http::pages::proxy_endpoints(state);
    CredentialsView {
        username: creds.username,
        password: creds.secret,
        http_proxy: endpoints.http,
        socks_proxy: endpoints.socks,
    }
}

/// The proxy credentials.
#[utoipa::path(
    get, path = "/credentials", tag = "credentials", security(("token" = [])),
    responses(
        (status = 200, description = "The credentials", body = CredentialsView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn credentials(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> ApiResult<CredentialsView> {
    let account = caller.account.id;
    let creds = match store::credentials::by_account(&state.db, account).await {
        Ok(Some(creds)) => creds,
        // Accounts made before credentials existed get theirs on first view.
        Ok(None) => store::credentials::create(&state.db, account, store::now_ms())
            .await
            .map_err(|e| Problem::store(&e))?,
        Err(e) => return Err(Problem::store(&e)),
    };
    Ok(Json(credentials_view(&state, creds)))
}

/// Replaces the proxy password; the gateways refuse the old one within a second.
#[utoipa::path(
    post, path = "/credentials/regenerate", tag = "credentials", security(("token" = [])),
    responses(
        (status = 200, description = "The new credentials", body = CredentialsView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read token", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn regenerate_credentials(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> ApiResult<CredentialsView> {
    let account = caller.account.id;
    let creds = store::credentials::regenerate(&state.db, account, store::now_ms())
        .await
        .map_err(|e| Problem::store(&e))?;
    state.gateways.refresh_now();
    caller
        .client
        .record(
            &state.db,
            Some(account),
            "credentials.regenerated",
            via(&caller),
        )
        .await;
    Ok(Json(credentials_view(&state, creds)))
}

/// The activity detail naming the token a change was made with.
fn via(caller: &ApiCaller) -> serde_json::Value {
    json!({ "via": "api_token", "token_id": caller.token.id })
}

// ---------------------------------------------------------------------------------------
// IP allowlist

/// An allowlisted network: traffic from it may use the proxy without the password.
#[derive(Serialize, ToSchema)]
pub struct AllowlistEntryView {
    /// The entry's id.
    id: i64,
    /// The network, host bits cleared (`203.0.113.7/32`).
    cidr: String,
    /// The customer's label.
    note: String,
    /// Epoch milliseconds.
    created_at_ms: i64,
}

impl From<allowlist::AllowlistEntry> for AllowlistEntryView {
    fn from(e: allowlist::AllowlistEntry) -> Self {
        AllowlistEntryView {
            id: e.id.get(),
            cidr: e.cidr.to_string(),
            note: e.note,
            created_at_ms: e.created_at,
        }
    }
}

/// The account's allowlisted networks.
#[derive(Serialize, ToSchema)]
pub struct AllowlistView {
    /// Oldest first.
    entries: Vec<AllowlistEntryView>,
}

/// A network to allow.
#[derive(Deserialize, ToSchema)]
pub struct NewAllowlistEntry {
    /// An IP address or CIDR (`203.0.113.7`, `198.51.100.0/24`): public, at most a /24
    /// (IPv4) or /48 (IPv6).
    cidr: String,
    /// A label, at most 100 characters.
    #[serde(default)]
    note: String,
}

/// The allowlisted networks.
#[utoipa::path(
    get, path = "/allowlist", tag = "allowlist", security(("token" = [])),
    responses(
        (status = 200, description = "The entries", body = AllowlistView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_allowlist(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> ApiResult<AllowlistView> {
    let entries = allowlist::for_account(&state.db, caller.account.id)
        .await
        .map_err(|e| Problem::store(&e))?;
    Ok(Json(AllowlistView {
        entries: entries.into_iter().map(Into::into).collect(),
    }))
}

/// The problem for a refused allowlist entry (the same checks as Settings).
fn allowlist_problem(error: &AllowlistError) -> Problem {
    match error {
        AllowlistError::NoteTooLong => invalid(format!(
            "the note is longer than {} characters",
            crate::http::account::ALLOWLIST_NOTE_MAX_CHARS
        )),
        AllowlistError::NotAnAddress(_)
        | AllowlistError::TooWide { .. }
        | AllowlistError::NotPublic { .. }
        | AllowlistError::Full => invalid(error.to_string()),
        AllowlistError::Duplicate(_) | AllowlistError::Claimed(_) => {
            Problem::new(Code::Conflict, error.to_string())
        }
        AllowlistError::Store(e) => Problem::store(e),
        AllowlistError::NoAccount => Problem::unauthorized("the token's account is gone"),
    }
}

/// Allows a network. The token stands in for the password Settings asks for: only a
/// `read_write` token may do this.
#[utoipa::path(
    post, path = "/allowlist", tag = "allowlist", security(("token" = [])),
    request_body = NewAllowlistEntry,
    responses(
        (status = 201, description = "Added", body = AllowlistEntryView),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Listed already, or another account's network", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an address, too wide, not public, note too long, list full", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_to_allowlist(
    State(state): State<AppState>,
    caller: ApiCaller,
    body: Result<Json<NewAllowlistEntry>, JsonRejection>,
) -> Result<(StatusCode, Json<AllowlistEntryView>), Problem> {
    let Json(body) = body.map_err(|e| match e {
        JsonRejection::JsonDataError(e) => invalid(e.body_text()),
        e => bad_request(e.body_text()),
    })?;
    let (network, note) =
        check_allowlist_entry(&state, &body.cidr, &body.note).map_err(|e| allowlist_problem(&e))?;
    let cidr = network.to_string();
    let ranges = crate::http::account::source_ranges(&state);
    let account = caller.account.id;
    let entry = allowlist::add(&state.db, account, &cidr, note, ranges, store::now_ms())
        .await
        .map_err(|e| allowlist_problem(&e))?;
    state.gateways.refresh_now();
    let mut detail = via(&caller);
    detail["cidr"] = json!(cidr);
    caller
        .client
        .record(&state.db, Some(account), "allowlist.added", detail)
        .await;
    Ok((StatusCode::CREATED, Json(entry.into())))
}

/// Removes one of the account's networks.
#[utoipa::path(
    delete, path = "/allowlist/{id}", tag = "allowlist", security(("token" = [])),
    params(("id" = i64, Path, description = "The entry's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such entry of this account", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_from_allowlist(
    State(state): State<AppState>,
    caller: ApiCaller,
    id: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, Problem> {
    // Not a number: no such entry either.
    let Ok(Path(id)) = id else {
        return Err(Problem::not_found("allowlist entry"));
    };
    let account = caller.account.id;
    let entries = allowlist::for_account(&state.db, account)
        .await
        .map_err(|e| Problem::store(&e))?;
    let Some(entry) = entries.into_iter().find(|e| e.id.get() == id) else {
        return Err(Problem::not_found("allowlist entry"));
    };
    match allowlist::remove(&state.db, account, AllowlistEntryId(id)).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(Problem::not_found("allowlist entry")),
        Err(e) => return Err(Problem::store(&e)),
    }
    state.gateways.refresh_now();
    let mut detail = via(&caller);
    detail["cidr"] = json!(entry.cidr.to_string());
    caller
        .client
        .record(&state.db, Some(account), "allowlist.removed", detail)
        .await;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------
// Activity

/// Most events a page may hold.
const ACTIVITY_MAX_LIMIT: i64 = 200;
/// Events a page holds unless `limit` says otherwise.
const ACTIVITY_DEFAULT_LIMIT: i64 = 50;

/// A page of the activity log.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityParams {
    /// `next_cursor` of the previous page; absent for the newest events.
    cursor: Option<String>,
    /// Events per page, 1 to 200 (default 50).
    limit: Option<i64>,
}

/// One event.
#[derive(Serialize, ToSchema)]
pub struct ActivityItem {
    /// The event's id.
    id: i64,
    /// Dotted event name (`sign_in.succeeded`, `api_token.created`…).
    kind: String,
    /// The event in words, as the dashboard shows it.
    title: String,
    /// Event details.
    #[schema(value_type = Object)]
    detail: serde_json::Value,
    /// The client's address.
    ip: Option<String>,
    /// The client's user agent.
    user_agent: Option<String>,
    /// Epoch milliseconds.
    created_at_ms: i64,
}

/// Events, newest first.
#[derive(Serialize, ToSchema)]
pub struct ActivityPage {
    /// This page's events.
    items: Vec<ActivityItem>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

fn encode_cursor(c: store::activity::Cursor) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}.{}", c.created_at, c.id))
}

fn decode_cursor(text: &str) -> Option<store::activity::Cursor> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
    let (at, id) = raw.split_once('.')?;
    Some(store::activity::Cursor {
        created_at: at.parse().ok()?,
        id: store::ActivityId(id.parse().ok()?),
    })
}

/// The activity log, newest first, a page at a time.
#[utoipa::path(
    get, path = "/activity", tag = "activity", security(("token" = [])),
    params(ActivityParams),
    responses(
        (status = 200, description = "A page of events", body = ActivityPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad cursor or limit", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn activity(
    State(state): State<AppState>,
    caller: ApiCaller,
    params: Result<Query<ActivityParams>, QueryRejection>,
) -> ApiResult<ActivityPage> {
    let Query(params) = params.map_err(|e| bad_request(e.body_text()))?;
    let limit = params.limit.unwrap_or(ACTIVITY_DEFAULT_LIMIT);
    if !(1..=ACTIVITY_MAX_LIMIT).contains(&limit) {
        return Err(invalid(format!("limit is 1 to {ACTIVITY_MAX_LIMIT}")));
    }
    let cursor = match params.cursor.as_deref() {
        None | Some("") => None,
        Some(text) => Some(decode_cursor(text).ok_or_else(|| {
            invalid("not a cursor: pass next_cursor of the previous page as it is")
        })?),
    };
    let mut events = store::activity::list_after(&state.db, caller.account.id, cursor, limit + 1)
        .await
        .map_err(|e| Problem::store(&e))?;
    let more = events.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = more.then(|| events.last()).flatten().map(|last| {
        encode_cursor(store::activity::Cursor {
            created_at: last.created_at,
            id: last.id,
        })
    });
    let items = events
        .into_iter()
        .map(|e| ActivityItem {
            title: app::api::activity::ssr::describe(&e.kind, &e.detail).0,
            id: e.id.get(),
            kind: e.kind,
            detail: e.detail,
            ip: e.ip,
            user_agent: e.user_agent,
            created_at_ms: e.created_at,
        })
        .collect();
    Ok(Json(ActivityPage { items, next_cursor }))
}

// ---------------------------------------------------------------------------------------
// Usage

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
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad granularity, time, window or zone", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
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

// ---------------------------------------------------------------------------------------
// Administrators

/// An exit as the Servers page shows it to administrators.
#[derive(Serialize, ToSchema)]
pub struct ExitView {
    /// The exit's id.
    id: i64,
    /// Its name.
    name: String,
    /// The upstream without credentials.
    upstream: Option<String>,
    /// ISO country code, lower case.
    country: String,
    /// City tag.
    city: Option<String>,
    /// Pool.
    pool: String,
    /// Enabled in the directory.
    enabled: bool,
    /// `healthy`, `unhealthy`, `unknown` (not checked yet) or `disabled`.
    health: String,
    /// Why the last check failed.
    last_error: Option<String>,
    /// Recent connect latency.
    latency_ms: Option<i64>,
    /// Share of connects and probes that worked, when there were any.
    success_rate: Option<f64>,
    /// Connections relayed through it now.
    active_connections: u32,
    /// Last check, epoch milliseconds.
    last_check_at_ms: Option<i64>,
}

/// Every exit.
#[derive(Serialize, ToSchema)]
pub struct ExitsView {
    /// By id.
    exits: Vec<ExitView>,
}

/// Every exit with its health (administrators' tokens only).
#[utoipa::path(
    get, path = "/admin/exits", tag = "admin", security(("token" = [])),
    responses(
        (status = 200, description = "The exits", body = ExitsView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator's token", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn admin_exits(
    State(state): State<AppState>,
    _caller: ApiCaller,
) -> ApiResult<ExitsView> {
    let exits = store::exits::list(&state.db)
        .await
        .map_err(|e| Problem::store(&e))?;
    let live = (crate::http::pages::exit_telemetry(&state.live).0)();
    let utc = app::api::zone::parse("UTC");
    let exits = exits
        .into_iter()
        .map(|e| {
            let row = app::api::servers::server_row(
                &e,
                live.iter().find(|l| l.id == e.id.get()),
                true,
                utc,
            );
            ExitView {
                id: row.id,
                name: row.name,
                upstream: row.upstream,
                country: e.country,
                city: row.city,
                pool: e.pool,
                enabled: row.enabled,
                health: row.health,
                last_error: row.last_error,
                latency_ms: row.latency_ms,
                success_rate: row.success_rate,
                active_connections: row.active_connections,
                last_check_at_ms: e.last_check_at,
            }
        })
        .collect();
    Ok(Json(ExitsView { exits }))
}

/// One node of the cluster.
#[derive(Serialize, ToSchema)]
pub struct NodeView {
    /// The node's id.
    node: String,
    /// `all`, `web` or `gateway`.
    role: String,
    /// Where it runs.
    region: String,
    /// `up`, `degraded` (on local limits: the shared state is unreachable) or `down`.
    health: String,
    /// Client connections open on it.
    open_connections: u64,
    /// Its machine's load per core.
    load: Option<f64>,
    /// Its addresses and version.
    detail: Option<String>,
    /// Seconds since its last report.
    seen_secs_ago: i64,
}

/// The cluster's nodes.
#[derive(Serialize, ToSchema)]
pub struct NodesView {
    /// Whether the service runs as a cluster; `false`: one process, `nodes` empty.
    cluster: bool,
    /// The nodes.
    nodes: Vec<NodeView>,
}

/// The cluster's nodes (administrators' tokens only).
#[utoipa::path(
    get, path = "/admin/nodes", tag = "admin", security(("token" = [])),
    responses(
        (status = 200, description = "The nodes", body = NodesView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator's token", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn admin_nodes(
    State(state): State<AppState>,
    _caller: ApiCaller,
) -> ApiResult<NodesView> {
    let nodes = (crate::http::pages::cluster_nodes(&state.gateways).0)().await;
    let now = store::now_ms();
    Ok(Json(NodesView {
        cluster: nodes.is_some(),
        nodes: nodes
            .unwrap_or_default()
            .into_iter()
            .map(|n| {
                let row = app::api::servers::node_row(n, true, now);
                NodeView {
                    node: row.node,
                    role: row.role,
                    region: row.region,
                    health: row.health,
                    open_connections: row.open_connections,
                    load: row.load,
                    detail: row.detail,
                    seen_secs_ago: row.seen_secs_ago,
                }
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        let cursor = store::activity::Cursor {
            created_at: 1_795_343_400_000,
            id: store::ActivityId(42),
        };
        assert_eq!(decode_cursor(&encode_cursor(cursor)), Some(cursor));
        for junk in ["", "x", "!!!", &URL_SAFE_NO_PAD.encode("1.x")] {
            assert_eq!(decode_cursor(junk), None, "{junk}");
        }
    }
}
