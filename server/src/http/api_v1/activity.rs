//! `GET /activity`: the account's activity log, newest first, a page at a time behind an
//! opaque cursor.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::ApiCaller;
use super::problem::{ApiResult, Problem, bad_request, invalid};
use super::responses::{BadQuery, Reads};
use crate::state::AppState;

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
    #[param(minimum = 1, maximum = 200)]
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
        (status = 422, description = "A bad cursor or limit", body = Problem, content_type = "application/problem+json"),
        BadQuery,
        Reads,
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
