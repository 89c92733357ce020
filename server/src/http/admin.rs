//! Administration as form posts: managing the exits (upstream proxies) the gateway sends
//! traffic through, and removing any account's IP allowlist entry to settle a dispute over an
//! address. Administrators only ([`Admin`]): customers get 403, whatever they send.

use app::outcome::Outcome;
use axum::extract::State;
use axum::response::Redirect;
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::json;
use store::{AllowlistEntryId, ExitId, StoreError, allowlist, exits};

use super::viewer::{Admin, SignedIn};
use super::web_error::{WebError, back, back_to};
use crate::activity;
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

fn failed(error: &StoreError) -> WebError {
    tracing::error!(%error, "an exit change failed");
    WebError::Unavailable("the change could not be saved, try again\n")
}

const NO_SUCH_EXIT: WebError = WebError::NotFound("no such exit\n");

async fn log(state: &AppState, viewer: SignedIn, kind: &str, detail: serde_json::Value) {
    activity::record(&state.db, Some(viewer.account_id()), kind, None, detail).await;
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
) -> Result<Redirect, WebError> {
    let new = exits::NewExit {
        city: non_empty(&form.city),
        pool: non_empty(&form.pool),
        name: non_empty(&form.name),
        forward_names: form.forward_names.is_some(),
        ..exits::NewExit::new(form.url.trim(), form.country.trim())
    };
    match exits::add(&state.db, &new, store::now_ms()).await {
        Ok(exit) => {
            state.gateways.refresh_now();
            log(
                &state,
                viewer,
                "exit.added",
                json!({ "exit": exit.id.get(), "url": exit.display_url() }),
            )
            .await;
            Ok(back(Outcome::ExitAdded))
        }
        Err(StoreError::Invalid(_)) => Err(WebError::back(Outcome::ExitInvalid)),
        Err(StoreError::Conflict(_)) => Err(WebError::back(Outcome::ExitDuplicate)),
        Err(error) => Err(failed(&error)),
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
) -> Result<Redirect, WebError> {
    match exits::remove(&state.db, ExitId(form.id)).await {
        Ok(()) => {
            state.gateways.refresh_now();
            log(&state, viewer, "exit.removed", json!({ "exit": form.id })).await;
            Ok(back(Outcome::ExitRemoved))
        }
        Err(StoreError::NotFound) => Err(NO_SUCH_EXIT),
        Err(error) => Err(failed(&error)),
    }
}

/// `enabled=1` (or `on`, a checkbox's value) enables, anything else or nothing disables.
async fn set_enabled(
    State(state): State<AppState>,
    Admin(viewer): Admin,
    Form(form): Form<ExitForm>,
) -> Result<Redirect, WebError> {
    let enabled = matches!(form.enabled.as_deref(), Some("1" | "on" | "true"));
    match exits::set_enabled(&state.db, ExitId(form.id), enabled, store::now_ms()).await {
        Ok(()) => {
            state.gateways.refresh_now();
            let (kind, outcome) = if enabled {
                ("exit.enabled", Outcome::ExitEnabled)
            } else {
                ("exit.disabled", Outcome::ExitDisabled)
            };
            log(&state, viewer, kind, json!({ "exit": form.id })).await;
            Ok(back(outcome))
        }
        Err(StoreError::NotFound) => Err(NO_SUCH_EXIT),
        Err(error) => Err(failed(&error)),
    }
}

/// Probes the exit now through the running gateway; the Servers page then shows the verdict.
async fn test_exit(
    State(state): State<AppState>,
    Admin(_): Admin,
    Form(form): Form<ExitForm>,
) -> Result<Redirect, WebError> {
    match exits::by_id(&state.db, ExitId(form.id)).await {
        Ok(Some(_)) => {
            state.gateways.probe_exit(form.id).await;
            Ok(back(Outcome::ExitTested))
        }
        Ok(None) => Err(NO_SUCH_EXIT),
        Err(error) => Err(failed(&error)),
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
) -> Result<Redirect, WebError> {
    let entry = match allowlist::remove_any(&state.db, AllowlistEntryId(form.id)).await {
        Ok(entry) => entry,
        Err(StoreError::NotFound) => {
            return Err(WebError::NotFound("no such allowlist entry\n"));
        }
        Err(error) => return Err(failed(&error)),
    };
    state.gateways.refresh_now();
    let cidr = entry.cidr.to_string();
    let detail = json!({ "cidr": cidr, "by": "administrator" });
    let owner = Some(entry.account_id);
    activity::record(&state.db, owner, "allowlist.removed", None, detail).await;
    let detail = json!({ "account": entry.account_id.get(), "cidr": cidr });
    log(&state, viewer, "admin.allowlist_removed", detail).await;
    Ok(back_to(Outcome::AdminAllowlistRemoved, "allowlists"))
}
