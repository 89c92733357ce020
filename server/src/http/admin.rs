//! Administration as form posts: managing the exits (upstream proxies) the gateway sends
//! traffic through, and removing any account's IP allowlist entry to settle a dispute over an
//! address. Administrators only ([`Admin`]): customers get 403, whatever they send.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::json;
use store::{AllowlistEntryId, ExitId, StoreError, activity, allowlist, exits};

use super::auth::record;
use super::viewer::{Admin, SignedIn};
use crate::state::AppState;

/// `POST /admin/exits`, `/admin/exits/remove`, `/admin/exits/enabled`, `/admin/exits/test`,
/// `/admin/allowlist/remove`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/allowlist/remove", post(remove_allowlist_entry))
        .route("/admin/exits", post(add_exit))
        .route("/admin/exits/remove", post(remove_exit))
        .route("/admin/exits/enabled", post(set_enabled))
        .route("/admin/exits/test", post(test_exit))
}

fn back(outcome: &str, key: &str) -> Response {
    Redirect::to(&format!("/servers?{outcome}={key}")).into_response()
}

fn failed(error: &StoreError) -> Response {
    tracing::error!(%error, "an exit change failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the change could not be saved, try again\n",
    )
        .into_response()
}

async fn log(state: &AppState, viewer: SignedIn, kind: &str, detail: serde_json::Value) {
    let event = activity::NewActivity {
        detail,
        ..activity::NewActivity::new(Some(viewer.account_id()), kind)
    };
    record(&state.db, &event).await;
}

#[derive(Deserialize)]
struct AddForm {
    url: String,
    country: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    pool: String,
    #[serde(default)]
    name: String,
    /// A checkbox: present (any value) when ticked.
    #[serde(default)]
    forward_names: Option<String>,
}

fn non_empty(value: &str) -> Option<&str> {
    Some(value.trim()).filter(|v| !v.is_empty())
}

async fn add_exit(
    State(state): State<AppState>,
    Admin(viewer): Admin,
    Form(form): Form<AddForm>,
) -> Response {
    let new = exits::NewExit {
        city: non_empty(&form.city),
        pool: non_empty(&form.pool),
        name: non_empty(&form.name),
        forward_names: form.forward_names.is_some(),
        ..exits::NewExit::new(form.url.trim(), form.country.trim())
    };
    match exits::add(&state.db, &new, store::now_ms()).await {
        Ok(exit) => {
            state.gateway.handle.refresh_now();
            log(
                &state,
                viewer,
                "exit.added",
                json!({ "exit": exit.id.get(), "url": exit.display_url() }),
            )
            .await;
            back("notice", "exit_added")
        }
        Err(StoreError::Invalid(_)) => back("error", "exit_invalid"),
        Err(StoreError::Conflict(_)) => back("error", "exit_duplicate"),
        Err(error) => failed(&error),
    }
}

#[derive(Deserialize)]
struct ExitForm {
    id: i64,
    #[serde(default)]
    enabled: Option<String>,
}

async fn remove_exit(
    State(state): State<AppState>,
    Admin(viewer): Admin,
    Form(form): Form<ExitForm>,
) -> Response {
    match exits::remove(&state.db, ExitId(form.id)).await {
        Ok(()) => {
            state.gateway.handle.refresh_now();
            log(&state, viewer, "exit.removed", json!({ "exit": form.id })).await;
            back("notice", "exit_removed")
        }
        Err(StoreError::NotFound) => (StatusCode::NOT_FOUND, "no such exit\n").into_response(),
        Err(error) => failed(&error),
    }
}

/// `enabled=1` (or `on`, a checkbox's value) enables, anything else or nothing disables.
async fn set_enabled(
    State(state): State<AppState>,
    Admin(viewer): Admin,
    Form(form): Form<ExitForm>,
) -> Response {
    let enabled = matches!(form.enabled.as_deref(), Some("1" | "on" | "true"));
    match exits::set_enabled(&state.db, ExitId(form.id), enabled, store::now_ms()).await {
        Ok(()) => {
            state.gateway.handle.refresh_now();
            let kind = if enabled {
                "exit.enabled"
            } else {
                "exit.disabled"
            };
            log(&state, viewer, kind, json!({ "exit": form.id })).await;
            back("notice", kind)
        }
        Err(StoreError::NotFound) => (StatusCode::NOT_FOUND, "no such exit\n").into_response(),
        Err(error) => failed(&error),
    }
}

/// Probes the exit now through the running gateway; the Servers page then shows the verdict.
async fn test_exit(
    State(state): State<AppState>,
    Admin(_): Admin,
    Form(form): Form<ExitForm>,
) -> Response {
    match exits::by_id(&state.db, ExitId(form.id)).await {
        Ok(Some(_)) => {
            state.gateway.handle.probe_exit(form.id).await;
            back("notice", "exit_tested")
        }
        Ok(None) => (StatusCode::NOT_FOUND, "no such exit\n").into_response(),
        Err(error) => failed(&error),
    }
}

#[derive(Deserialize)]
struct EntryForm {
    id: i64,
}

/// Removes any account's allowlist entry. The owner's activity says support removed it; the
/// administrator's own activity records which entry of which account.
async fn remove_allowlist_entry(
    State(state): State<AppState>,
    Admin(viewer): Admin,
    Form(form): Form<EntryForm>,
) -> Response {
    let entry = match allowlist::remove_any(&state.db, AllowlistEntryId(form.id)).await {
        Ok(entry) => entry,
        Err(StoreError::NotFound) => {
            return (StatusCode::NOT_FOUND, "no such allowlist entry\n").into_response();
        }
        Err(error) => return failed(&error),
    };
    state.gateway.handle.refresh_now();
    let cidr = entry.cidr.to_string();
    let owner = activity::NewActivity {
        detail: json!({ "cidr": cidr, "by": "administrator" }),
        ..activity::NewActivity::new(Some(entry.account_id), "allowlist.removed")
    };
    record(&state.db, &owner).await;
    let detail = json!({ "account": entry.account_id.get(), "cidr": cidr });
    log(&state, viewer, "admin.allowlist_removed", detail).await;
    Redirect::to("/admin?notice=allowlist_removed#allowlists").into_response()
}
