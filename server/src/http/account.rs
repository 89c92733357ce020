//! Account security from the Settings page, as plain HTML form posts (they work without
//! JavaScript): password change, signing out the other sessions, two-factor enrolment and
//! removal, and the gateway IP allowlist. Each answers with a 303 back to Settings carrying a
//! `notice` or `error` key the page turns into a message, and records an activity event.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::json;
use store::accounts::{self, Account};
use store::{StoreError, activity, credentials, two_factor};
use tower_sessions::Session;

use super::auth::{Client, password_policy, record, too_many_attempts, verify};
use super::client_ip::client_ip;
use super::gate::SignedIn;
use crate::auth::{self, Identity};
use crate::state::AppState;

/// The session key under which freshly made recovery codes wait to be shown, once.
pub const FRESH_RECOVERY_CODES: &str = app::api::security::FRESH_RECOVERY_CODES;

/// The Settings form posts.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/password", post(change_password))
        .route("/settings/sessions/revoke", post(sign_out_others))
        .route("/settings/two-factor/start", post(start_two_factor))
        .route("/settings/two-factor/confirm", post(confirm_two_factor))
        .route("/settings/two-factor/disable", post(disable_two_factor))
        .route("/settings/allowlist", post(add_allowed_ip))
        .route("/settings/allowlist/remove", post(remove_allowed_ip))
}

/// Back to a Settings section with a message key.
fn back(section: &str, outcome: &str, key: &str) -> Response {
    Redirect::to(&format!("/settings?{outcome}={key}#{section}")).into_response()
}

fn failed(error: &StoreError) -> Response {
    tracing::error!(%error, "a settings change failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the change could not be saved, try again\n",
    )
        .into_response()
}

/// The request's client and the signed-in account, loaded fresh.
struct Request {
    client: Client,
    account: Account,
}

async fn load(
    state: &AppState,
    viewer: SignedIn,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<Request, Response> {
    let ip = client_ip(peer, headers, &state.config.trusted_proxies);
    let account = match accounts::by_id(&state.db, viewer.account_id()).await {
        Ok(Some(account)) => account,
        Ok(None) => return Err(Redirect::to("/login").into_response()),
        Err(error) => return Err(failed(&error)),
    };
    Ok(Request {
        client: Client::of(headers, ip),
        account,
    })
}

async fn log(state: &AppState, request: &Request, kind: &str, detail: serde_json::Value) {
    let event = activity::NewActivity {
        detail,
        ip: Some(&request.client.ip),
        user_agent: request.client.user_agent.as_deref(),
        ..activity::NewActivity::new(Some(request.account.id), kind)
    };
    record(&state.db, &event).await;
}

/// Keeps the session doing the change signed in under the account's new epoch.
async fn keep_this_session(session: &Session, epoch: i64) -> Result<(), Response> {
    let Some(identity) = Identity::current(session, store::now_ms()).await else {
        return Err(Redirect::to("/login").into_response());
    };
    auth::adopt_epoch(session, identity, epoch)
        .await
        .map_err(|error| {
            tracing::error!(%error, "updating the session failed");
            (StatusCode::SERVICE_UNAVAILABLE, "try again\n").into_response()
        })
}

#[derive(Deserialize)]
struct PasswordForm {
    current_password: String,
    new_password: String,
}

/// `POST /settings/password`: needs the current password (limited like sign-in, so a
/// hijacked session cannot guess it), applies the password policy, and signs out every other
/// session.
async fn change_password(
    State(state): State<AppState>,
    viewer: SignedIn,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: Session,
    Form(form): Form<PasswordForm>,
) -> Response {
    let request = match load(&state, viewer, peer, &headers).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let ip = client_ip(peer, &headers, &state.config.trusted_proxies);
    if let Err(wait) = state
        .reauth_limiter
        .check(ip, &format!("account:{}", request.account.id))
    {
        return too_many_attempts(wait);
    }
    let current_ok = verify(
        Some(request.account.password_hash.clone()),
        form.current_password,
    )
    .await;
    if !current_ok {
        log(&state, &request, "password.change_failed", json!({})).await;
        return back("password", "error", "current_password");
    }
    if let Err(reason) = password_policy(&form.new_password, &request.account.email) {
        return back("password", "error", reason);
    }
    let new_password = form.new_password;
    let hash =
        match tokio::task::spawn_blocking(move || accounts::hash_password(&new_password)).await {
            Ok(Ok(hash)) => hash,
            _ => return (StatusCode::SERVICE_UNAVAILABLE, "try again\n").into_response(),
        };
    let epoch = match accounts::change_password(
        &state.db,
        request.account.id,
        &hash,
        store::now_ms(),
    )
    .await
    {
        Ok(epoch) => epoch,
        Err(error) => return failed(&error),
    };
    if let Err(response) = keep_this_session(&session, epoch).await {
        return response;
    }
    log(&state, &request, "password.changed", json!({})).await;
    back("password", "notice", "password_changed")
}

/// `POST /settings/sessions/revoke`: every other session of the account ends at its next
/// request.
async fn sign_out_others(
    State(state): State<AppState>,
    viewer: SignedIn,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: Session,
) -> Response {
    let request = match load(&state, viewer, peer, &headers).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let epoch =
        match accounts::bump_session_epoch(&state.db, request.account.id, store::now_ms()).await {
            Ok(epoch) => epoch,
            Err(error) => return failed(&error),
        };
    if let Err(response) = keep_this_session(&session, epoch).await {
        return response;
    }
    log(&state, &request, "sessions.revoked", json!({})).await;
    back("sessions", "notice", "sessions_revoked")
}

/// `POST /settings/two-factor/start`: a new secret, not yet required at sign-in; Settings
/// shows its QR code until it is confirmed with a code.
async fn start_two_factor(
    State(state): State<AppState>,
    viewer: SignedIn,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let request = match load(&state, viewer, peer, &headers).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    if request.account.totp_enabled {
        return back("two-factor", "error", "already_on");
    }
    let secret = two_factor::new_secret();
    match accounts::set_totp(
        &state.db,
        request.account.id,
        Some(&secret),
        false,
        store::now_ms(),
    )
    .await
    {
        Ok(()) => back("two-factor", "notice", "scan"),
        Err(error) => failed(&error),
    }
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
}

/// `POST /settings/two-factor/confirm`: a correct code from the app turns 2FA on and makes
/// ten recovery codes, shown once on the next page.
async fn confirm_two_factor(
    State(state): State<AppState>,
    viewer: SignedIn,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: Session,
    Form(form): Form<CodeForm>,
) -> Response {
    let request = match load(&state, viewer, peer, &headers).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let account = &request.account;
    let Some(secret) = account
        .totp_secret
        .as_deref()
        .filter(|_| !account.totp_enabled)
    else {
        return back("two-factor", "error", "not_started");
    };
    let now = store::now_ms();
    let step = two_factor::check_code(secret, &form.code, auth::second_factor::unix_secs(now));
    let accepted = match step {
        Some(step) => match accounts::accept_totp_step(&state.db, account.id, step).await {
            Ok(fresh) => fresh,
            Err(error) => return failed(&error),
        },
        None => false,
    };
    if !accepted {
        return back("two-factor", "error", "code");
    }
    let codes = two_factor::new_recovery_codes();
    let digests: Vec<String> = codes
        .iter()
        .map(|c| two_factor::hash_recovery_code(c))
        .collect();
    if let Err(error) = accounts::enable_totp(&state.db, account.id, &digests, now).await {
        return failed(&error);
    }
    if let Err(error) = session.insert(FRESH_RECOVERY_CODES, codes).await {
        tracing::error!(%error, "keeping the recovery codes for display failed");
    }
    log(&state, &request, "two_factor.enabled", json!({})).await;
    back("two-factor", "notice", "two_factor_on")
}

/// `POST /settings/two-factor/disable`: needs a current code or a recovery code.
async fn disable_two_factor(
    State(state): State<AppState>,
    viewer: SignedIn,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    let request = match load(&state, viewer, peer, &headers).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let account = &request.account;
    if !account.totp_enabled {
        // Cancels an enrolment that was started and never confirmed.
        return match accounts::disable_totp(&state.db, account.id, store::now_ms()).await {
            Ok(()) => back("two-factor", "notice", "two_factor_off"),
            Err(error) => failed(&error),
        };
    }
    let ip = client_ip(peer, &headers, &state.config.trusted_proxies);
    if let Err(wait) = state
        .reauth_limiter
        .check(ip, &format!("account:{}", account.id))
    {
        return too_many_attempts(wait);
    }
    let now = store::now_ms();
    match auth::second_factor::verify(&state.db, account, &form.code, now).await {
        Ok(Some(_)) => {}
        Ok(None) => return back("two-factor", "error", "code"),
        Err(error) => return failed(&error),
    }
    if let Err(error) = accounts::disable_totp(&state.db, account.id, now).await {
        return failed(&error);
    }
    log(&state, &request, "two_factor.disabled", json!({})).await;
    back("two-factor", "notice", "two_factor_off")
}

#[derive(Deserialize)]
struct AllowForm {
    cidr: String,
    #[serde(default)]
    note: String,
}

/// `POST /settings/allowlist`: an address or network that may use the proxy without the
/// password. The gateway picks it up at once.
async fn add_allowed_ip(
    State(state): State<AppState>,
    viewer: SignedIn,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<AllowForm>,
) -> Response {
    let request = match load(&state, viewer, peer, &headers).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let note = form.note.trim();
    if note.chars().count() > 100 {
        return back("allowlist", "error", "note");
    }
    let network = match credentials::parse_cidr(&form.cidr) {
        Ok(network) => network,
        Err(_) => return back("allowlist", "error", "cidr"),
    };
    if credentials::check_allowlist_width(&network).is_err() {
        return back("allowlist", "error", "too_wide");
    }
    match credentials::allowlist_add(
        &state.db,
        request.account.id,
        &network.to_string(),
        note,
        store::now_ms(),
    )
    .await
    {
        Ok(_) => {}
        Err(StoreError::Conflict(_)) => return back("allowlist", "error", "duplicate"),
        // The address and width were checked above, the note's length too: the list is full.
        Err(StoreError::Invalid(_)) => return back("allowlist", "error", "full"),
        Err(error) => return failed(&error),
    }
    state.gateway.handle.refresh_now();
    log(
        &state,
        &request,
        "allowlist.added",
        json!({ "cidr": network.to_string() }),
    )
    .await;
    back("allowlist", "notice", "allowlist_added")
}

#[derive(Deserialize)]
struct RemoveForm {
    id: i64,
}

/// `POST /settings/allowlist/remove`: only the account's own entries; anyone else's id is
/// 404, as if it did not exist.
async fn remove_allowed_ip(
    State(state): State<AppState>,
    viewer: SignedIn,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<RemoveForm>,
) -> Response {
    let request = match load(&state, viewer, peer, &headers).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let entries = match credentials::allowlist(&state.db, request.account.id).await {
        Ok(entries) => entries,
        Err(error) => return failed(&error),
    };
    let Some(entry) = entries.into_iter().find(|e| e.id.get() == form.id) else {
        return (StatusCode::NOT_FOUND, "no such allowlist entry\n").into_response();
    };
    match credentials::allowlist_remove(&state.db, request.account.id, entry.id).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => {
            return (StatusCode::NOT_FOUND, "no such allowlist entry\n").into_response();
        }
        Err(error) => return failed(&error),
    }
    state.gateway.handle.refresh_now();
    log(
        &state,
        &request,
        "allowlist.removed",
        json!({ "cidr": entry.cidr }),
    )
    .await;
    back("allowlist", "notice", "allowlist_removed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_go_back_to_their_section() {
        let response = back("allowlist", "error", "cidr");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            response.headers()[axum::http::header::LOCATION],
            "/settings?error=cidr#allowlist"
        );
    }
}
