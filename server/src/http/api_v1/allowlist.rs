//! `GET`/`POST /allowlist` and `DELETE /allowlist/{id}`: the account's allowlisted networks,
//! with the checks Settings makes ([`check_allowlist_entry`]).

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::allowlist::{self, AllowlistError};
use store::{AllowlistEntryId, StoreError};
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::problem::{ApiResult, Code, Problem, bad_request, invalid};
use super::responses::{Reads, Writes};
use crate::http::account::check_allowlist_entry;
use crate::state::AppState;

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
    #[schema(example = "203.0.113.7")]
    cidr: String,
    /// A label, at most 100 characters.
    #[serde(default)]
    #[schema(max_length = 100, example = "office")]
    note: String,
}

/// The allowlisted networks.
#[utoipa::path(
    get, path = "/allowlist", tag = "allowlist", security(("token" = [])),
    responses(
        (status = 200, description = "The entries", body = AllowlistView),
        Reads,
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
        (status = 201, description = "Added", body = AllowlistEntryView, links(
            ("RemoveEntry" = (
                operation_id = "remove_from_allowlist",
                parameters(("id" = "$response.body#/id")),
                description = "Remove the entry just added"
            ))
        )),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Listed already, or another account's network", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an address, too wide, not public, note too long, list full", body = Problem, content_type = "application/problem+json"),
        Writes,
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
    let mut detail = caller.via();
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
        (status = 404, description = "No such entry of this account", body = Problem, content_type = "application/problem+json"),
        Writes,
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
    let mut detail = caller.via();
    detail["cidr"] = json!(entry.cidr.to_string());
    caller
        .client
        .record(&state.db, Some(account), "allowlist.removed", detail)
        .await;
    Ok(StatusCode::NO_CONTENT)
}
