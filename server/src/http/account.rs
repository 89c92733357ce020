//! Account security from the Settings page, as plain HTML form posts (they work without
//! JavaScript): password change, signing out the other sessions, two-factor enrolment and
//! removal, and the gateway IP allowlist. Each answers with a 303 back to Settings carrying a
//! `notice` or `error` key the page turns into a message, and records an activity event.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::json;
use store::accounts::{self, Account};
use store::allowlist::{self, AllowlistError, SourceRanges};
use store::{StoreError, activity};
use tower_sessions::Session;

use super::auth::{Client, password_policy, record, too_many_attempts};
use super::client_ip::client_ip;
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

/// Who is changing their settings: the signed-in account as the gate loaded it for this
/// request, and the client's address and agent. Signed-out visitors are sent to `/login`.
struct Caller {
    ip: IpAddr,
    client: Client,
    account: Account,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(account) = parts.extensions.get::<Account>().cloned() else {
            return Err(Redirect::to("/login").into_response());
        };
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let ip = client_ip(peer, &parts.headers, &state.config.trusted_proxies);
        Ok(Caller {
            ip,
            client: Client::of(&parts.headers, ip),
            account,
        })
    }
}

async fn log(state: &AppState, caller: &Caller, kind: &str, detail: serde_json::Value) {
    let event = activity::NewActivity {
        detail,
        ip: Some(&caller.client.ip),
        user_agent: caller.client.user_agent.as_deref(),
        ..activity::NewActivity::new(Some(caller.account.id), kind)
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
    caller: Caller,
    session: Session,
    Form(form): Form<PasswordForm>,
) -> Response {
    if let Err(wait) = state
        .reauth_limiter
        .check(caller.ip, &format!("account:{}", caller.account.id))
    {
        return too_many_attempts(wait);
    }
    let current_ok = match state
        .password_work
        .verify(
            Some(caller.account.password_hash.clone()),
            form.current_password,
        )
        .await
    {
        Ok(ok) => ok,
        Err(refused) => return refused.into_response(),
    };
    if !current_ok {
        log(&state, &caller, "password.change_failed", json!({})).await;
        return back("password", "error", "current_password");
    }
    if let Err(reason) = password_policy(&form.new_password, &caller.account.email) {
        return back("password", "error", reason);
    }
    let hash = match state.password_work.hash(form.new_password).await {
        Ok(hash) => hash,
        Err(refused) => return refused.into_response(),
    };
    let epoch =
        match accounts::change_password(&state.db, caller.account.id, &hash, store::now_ms()).await
        {
            Ok(epoch) => epoch,
            Err(error) => return failed(&error),
        };
    if let Err(response) = keep_this_session(&session, epoch).await {
        return response;
    }
    log(&state, &caller, "password.changed", json!({})).await;
    back("password", "notice", "password_changed")
}

/// `POST /settings/sessions/revoke`: every other session of the account ends at its next
/// request.
async fn sign_out_others(
    State(state): State<AppState>,
    caller: Caller,
    session: Session,
) -> Response {
    let epoch =
        match accounts::bump_session_epoch(&state.db, caller.account.id, store::now_ms()).await {
            Ok(epoch) => epoch,
            Err(error) => return failed(&error),
        };
    if let Err(response) = keep_this_session(&session, epoch).await {
        return response;
    }
    log(&state, &caller, "sessions.revoked", json!({})).await;
    back("sessions", "notice", "sessions_revoked")
}

/// `POST /settings/two-factor/start`: a new secret, not yet required at sign-in; Settings
/// shows its QR code until it is confirmed with a code.
async fn start_two_factor(State(state): State<AppState>, caller: Caller) -> Response {
    if caller.account.totp_enabled {
        return back("two-factor", "error", "already_on");
    }
    let secret = auth::totp::new_secret();
    match accounts::set_totp(
        &state.db,
        caller.account.id,
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
    caller: Caller,
    session: Session,
    Form(form): Form<CodeForm>,
) -> Response {
    let account = &caller.account;
    let Some(secret) = account
        .totp_secret
        .as_deref()
        .filter(|_| !account.totp_enabled)
    else {
        return back("two-factor", "error", "not_started");
    };
    let now = store::now_ms();
    let step = auth::totp::check_code(secret, &form.code, auth::totp::unix_secs(now));
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
    let codes = auth::recovery_codes::generate();
    let digests: Vec<String> = codes
        .iter()
        .map(|c| auth::recovery_codes::digest(c))
        .collect();
    if let Err(error) = accounts::enable_totp(&state.db, account.id, &digests, now).await {
        return failed(&error);
    }
    if let Err(error) = session.insert(FRESH_RECOVERY_CODES, codes).await {
        tracing::error!(%error, "keeping the recovery codes for display failed");
    }
    log(&state, &caller, "two_factor.enabled", json!({})).await;
    back("two-factor", "notice", "two_factor_on")
}

/// `POST /settings/two-factor/disable`: needs a current code or a recovery code.
async fn disable_two_factor(
    State(state): State<AppState>,
    caller: Caller,
    Form(form): Form<CodeForm>,
) -> Response {
    let account = &caller.account;
    if !account.totp_enabled {
        // Cancels an enrolment that was started and never confirmed.
        return match accounts::disable_totp(&state.db, account.id, store::now_ms()).await {
            Ok(()) => back("two-factor", "notice", "two_factor_off"),
            Err(error) => failed(&error),
        };
    }
    if let Err(wait) = state
        .reauth_limiter
        .check(caller.ip, &format!("account:{}", account.id))
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
    log(&state, &caller, "two_factor.disabled", json!({})).await;
    back("two-factor", "notice", "two_factor_off")
}

#[derive(Deserialize)]
struct AllowForm {
    cidr: String,
    #[serde(default)]
    note: String,
    /// Re-authentication without two-factor sign-in.
    #[serde(default)]
    current_password: String,
    /// Re-authentication with two-factor sign-in: a current code or a recovery code.
    #[serde(default)]
    code: String,
}

/// The Settings message key for a refused entry.
fn refusal_key(error: &AllowlistError) -> Option<&'static str> {
    Some(match error {
        AllowlistError::NotAnAddress(_) => "cidr",
        AllowlistError::TooWide { .. } => "too_wide",
        AllowlistError::NotPublic { .. } => "not_public",
        AllowlistError::NoteTooLong => "note",
        AllowlistError::Full => "full",
        AllowlistError::Duplicate(_) => "duplicate",
        AllowlistError::Claimed(_) => "claimed",
        AllowlistError::NoAccount | AllowlistError::Store(_) => return None,
    })
}

/// `POST /settings/allowlist`: an address or network that may use the proxy without the
/// password. Whoever holds the session must prove they are the account holder again (the
/// password, or a code when two-factor sign-in is on, limited like sign-in), since an entry
/// opens the account to a network. The gateway picks it up at once.
async fn add_allowed_ip(
    State(state): State<AppState>,
    caller: Caller,
    Form(form): Form<AllowForm>,
) -> Response {
    let note = form.note.trim();
    if note.chars().count() > 100 {
        return back("allowlist", "error", "note");
    }
    let ranges = if state.config.allow_private_sources {
        SourceRanges::IncludingPrivate
    } else {
        SourceRanges::PublicOnly
    };
    // The free checks first: a typo should not cost a re-authentication attempt or a code.
    let network = match allowlist::check_entry(&form.cidr, note, ranges) {
        Ok(network) => network,
        Err(error) => return refused(&error),
    };
    if let Err(wait) = state
        .reauth_limiter
        .check(caller.ip, &format!("account:{}", caller.account.id))
    {
        return too_many_attempts(wait);
    }
    let account = &caller.account;
    let reauthenticated = if account.totp_enabled {
        match auth::second_factor::verify(&state.db, account, &form.code, store::now_ms()).await {
            Ok(factor) => factor.is_some(),
            Err(error) => return failed(&error),
        }
    } else {
        // under the same cap on argon2 work as every other password check
        match state
            .password_work
            .verify(Some(account.password_hash.clone()), form.current_password)
            .await
        {
            Ok(ok) => ok,
            Err(refused) => return refused.into_response(),
        }
    };
    if !reauthenticated {
        let detail = json!({ "cidr": network.to_string() });
        log(&state, &caller, "allowlist.reauth_failed", detail).await;
        let key = if account.totp_enabled {
            "code"
        } else {
            "current_password"
        };
        return back("allowlist", "error", key);
    }
    let added = allowlist::add(
        &state.db,
        account.id,
        &network.to_string(),
        note,
        ranges,
        store::now_ms(),
    )
    .await;
    if let Err(error) = added {
        return refused(&error);
    }
    state.gateway.handle.refresh_now();
    log(
        &state,
        &caller,
        "allowlist.added",
        json!({ "cidr": network.to_string() }),
    )
    .await;
    back("allowlist", "notice", "allowlist_added")
}

/// Back to the allowlist with the reason, or 503 when the database failed.
fn refused(error: &AllowlistError) -> Response {
    match (refusal_key(error), error) {
        (Some(key), _) => back("allowlist", "error", key),
        (None, AllowlistError::Store(error)) => failed(error),
        (None, _) => {
            tracing::error!(%error, "adding an allowlist entry failed");
            (StatusCode::SERVICE_UNAVAILABLE, "try again\n").into_response()
        }
    }
}

#[derive(Deserialize)]
struct RemoveForm {
    id: i64,
}

/// `POST /settings/allowlist/remove`: only the account's own entries; anyone else's id is
/// 404, as if it did not exist.
async fn remove_allowed_ip(
    State(state): State<AppState>,
    caller: Caller,
    Form(form): Form<RemoveForm>,
) -> Response {
    let entries = match allowlist::for_account(&state.db, caller.account.id).await {
        Ok(entries) => entries,
        Err(error) => return failed(&error),
    };
    let Some(entry) = entries.into_iter().find(|e| e.id.get() == form.id) else {
        return (StatusCode::NOT_FOUND, "no such allowlist entry\n").into_response();
    };
    match allowlist::remove(&state.db, caller.account.id, entry.id).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => {
            return (StatusCode::NOT_FOUND, "no such allowlist entry\n").into_response();
        }
        Err(error) => return failed(&error),
    }
    state.gateway.handle.refresh_now();
    log(
        &state,
        &caller,
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
