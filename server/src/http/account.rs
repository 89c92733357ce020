//! Account security from the Settings page, as plain HTML form posts (they work without
//! JavaScript): password change, signing out the other sessions, two-factor enrolment and
//! removal, and the gateway IP allowlist. Each answers with a 303 back to Settings carrying an
//! [`Outcome`] the page turns into a message, and records an activity event.

use std::net::IpAddr;

use app::outcome::Outcome;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::json;
use store::StoreError;
use store::accounts::{self, Account};
use store::allowlist::{self, AllowlistError, SourceRanges};
use tower_sessions::Session;

use super::auth::password_policy;
use super::client_ip::ClientIp;
use super::web_error::{WebError, back_to};
use crate::activity::Client;
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

const NOT_SAVED: &str = "the change could not be saved, try again\n";

fn failed(error: &StoreError) -> WebError {
    tracing::error!(%error, "a settings change failed");
    WebError::Unavailable(NOT_SAVED)
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
            return Err(WebError::SignIn.into_response());
        };
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        Ok(Caller {
            ip,
            client: Client::of(&parts.headers, ip),
            account,
        })
    }
}

impl Caller {
    /// Spends one of the account's attempts at a password or code (limited like sign-in, so
    /// a hijacked session cannot guess them).
    fn reauth_attempt(&self, state: &AppState) -> Result<(), WebError> {
        state
            .reauth_limiter
            .check(self.ip, &format!("account:{}", self.account.id))
            .map_err(WebError::TooManyAttempts)
    }
}

async fn log(state: &AppState, caller: &Caller, kind: &str, detail: serde_json::Value) {
    let account = Some(caller.account.id);
    caller.client.record(&state.db, account, kind, detail).await;
}

/// Keeps the session doing the change signed in under the account's new epoch.
async fn keep_this_session(session: &Session, epoch: i64) -> Result<(), WebError> {
    let identity = Identity::current(session, store::now_ms())
        .await
        .map_err(|error| {
            tracing::error!(%error, "reading the session failed");
            WebError::Unavailable("try again\n")
        })?;
    let Some(identity) = identity else {
        return Err(WebError::SignIn);
    };
    auth::adopt_epoch(session, identity, epoch)
        .await
        .map_err(|error| {
            tracing::error!(%error, "updating the session failed");
            WebError::Unavailable("try again\n")
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
) -> Result<Redirect, WebError> {
    caller.reauth_attempt(&state)?;
    let current_ok = state
        .password_work
        .verify(
            Some(caller.account.password_hash.clone()),
            form.current_password,
        )
        .await?;
    if !current_ok {
        log(&state, &caller, "password.change_failed", json!({})).await;
        return Err(WebError::back_to(Outcome::CurrentPasswordWrong, "password"));
    }
    if let Err(reason) = password_policy(&form.new_password, &caller.account.email) {
        let outcome = match reason {
            "short" => Outcome::NewPasswordShort,
            _ => Outcome::NewPasswordWeak,
        };
        return Err(WebError::back_to(outcome, "password"));
    }
    let hash = state.password_work.hash(form.new_password).await?;
    let epoch = accounts::change_password(&state.db, caller.account.id, &hash, store::now_ms())
        .await
        .map_err(|e| failed(&e))?;
    keep_this_session(&session, epoch).await?;
    log(&state, &caller, "password.changed", json!({})).await;
    Ok(back_to(Outcome::PasswordChanged, "password"))
}

/// `POST /settings/sessions/revoke`: every other session of the account ends at its next
/// request.
async fn sign_out_others(
    State(state): State<AppState>,
    caller: Caller,
    session: Session,
) -> Result<Redirect, WebError> {
    let epoch = accounts::bump_session_epoch(&state.db, caller.account.id, store::now_ms())
        .await
        .map_err(|e| failed(&e))?;
    keep_this_session(&session, epoch).await?;
    log(&state, &caller, "sessions.revoked", json!({})).await;
    Ok(back_to(Outcome::SessionsRevoked, "sessions"))
}

/// `POST /settings/two-factor/start`: a new secret, not yet required at sign-in; Settings
/// shows its QR code until it is confirmed with a code.
async fn start_two_factor(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Redirect, WebError> {
    if caller.account.totp_enabled {
        return Err(WebError::back_to(Outcome::TwoFactorAlreadyOn, "two-factor"));
    }
    let secret = crate::auth::totp::new_secret();
    let id = caller.account.id;
    accounts::set_totp(&state.db, id, Some(&secret), false, store::now_ms())
        .await
        .map_err(|e| failed(&e))?;
    Ok(back_to(Outcome::TwoFactorScan, "two-factor"))
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
) -> Result<Redirect, WebError> {
    let account = &caller.account;
    let Some(secret) = account
        .totp_secret
        .as_deref()
        .filter(|_| !account.totp_enabled)
    else {
        return Err(WebError::back_to(
            Outcome::TwoFactorNotStarted,
            "two-factor",
        ));
    };
    let now = store::now_ms();
    let step = auth::totp::check_code(secret, &form.code, auth::totp::unix_secs(now));
    let accepted = match step {
        Some(step) => accounts::accept_totp_step(&state.db, account.id, step)
            .await
            .map_err(|e| failed(&e))?,
        None => false,
    };
    if !accepted {
        return Err(WebError::back_to(Outcome::WrongCode, "two-factor"));
    }
    let codes = auth::recovery_codes::generate();
    let digests: Vec<String> = codes
        .iter()
        .map(|c| auth::recovery_codes::digest(c))
        .collect();
    accounts::enable_totp(&state.db, account.id, &digests, now)
        .await
        .map_err(|e| failed(&e))?;
    if let Err(error) = session.insert(FRESH_RECOVERY_CODES, codes).await {
        tracing::error!(%error, "keeping the recovery codes for display failed");
    }
    log(&state, &caller, "two_factor.enabled", json!({})).await;
    Ok(back_to(Outcome::TwoFactorOn, "two-factor"))
}

/// `POST /settings/two-factor/disable`: needs a current code or a recovery code.
async fn disable_two_factor(
    State(state): State<AppState>,
    caller: Caller,
    Form(form): Form<CodeForm>,
) -> Result<Redirect, WebError> {
    let account = &caller.account;
    if !account.totp_enabled {
        // Cancels an enrolment that was started and never confirmed.
        accounts::disable_totp(&state.db, account.id, store::now_ms())
            .await
            .map_err(|e| failed(&e))?;
        return Ok(back_to(Outcome::TwoFactorOff, "two-factor"));
    }
    caller.reauth_attempt(&state)?;
    let now = store::now_ms();
    let verified = auth::second_factor::verify(&state.db, account, &form.code, now)
        .await
        .map_err(|e| failed(&e))?;
    if verified.is_none() {
        return Err(WebError::back_to(Outcome::WrongCode, "two-factor"));
    }
    accounts::disable_totp(&state.db, account.id, now)
        .await
        .map_err(|e| failed(&e))?;
    log(&state, &caller, "two_factor.disabled", json!({})).await;
    Ok(back_to(Outcome::TwoFactorOff, "two-factor"))
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

/// The Settings outcome for a refused entry.
fn refusal(error: &AllowlistError) -> Option<Outcome> {
    Some(match error {
        AllowlistError::NotAnAddress(_) => Outcome::NotAnAddress,
        AllowlistError::TooWide { .. } => Outcome::NetworkTooWide,
        AllowlistError::NotPublic { .. } => Outcome::NotPublic,
        AllowlistError::NoteTooLong => Outcome::NoteTooLong,
        AllowlistError::Full => Outcome::AllowlistFull,
        AllowlistError::Duplicate(_) => Outcome::AlreadyAllowed,
        AllowlistError::Claimed(_) => Outcome::ClaimedByAnother,
        AllowlistError::NoAccount | AllowlistError::Store(_) => return None,
    })
}

/// Longest note on an allowlist entry, in characters.
pub(crate) const ALLOWLIST_NOTE_MAX_CHARS: usize = 100;

/// The networks an allowlist entry may name: public ones, and private ones too when the
/// service allows private sources.
pub(crate) fn source_ranges(state: &AppState) -> SourceRanges {
    if state.config.allow_private_sources {
        SourceRanges::IncludingPrivate
    } else {
        SourceRanges::PublicOnly
    }
}

/// The checks an allowlist entry passes before anything is stored, for Settings and the
/// public API alike: the note's length, then the network's shape, width and range. Returns
/// the canonical network and the trimmed note.
pub(crate) fn check_allowlist_entry<'a>(
    state: &AppState,
    cidr: &str,
    note: &'a str,
) -> Result<(ipnet::IpNet, &'a str), AllowlistError> {
    let note = note.trim();
    if note.chars().count() > ALLOWLIST_NOTE_MAX_CHARS {
        return Err(AllowlistError::NoteTooLong);
    }
    let network = allowlist::check_entry(cidr, note, source_ranges(state))?;
    Ok((network, note))
}

/// `POST /settings/allowlist`: an address or network that may use the proxy without the
/// password. Whoever holds the session must prove they are the account holder again (the
/// password, or a code when two-factor sign-in is on, limited like sign-in), since an entry
/// opens the account to a network. The gateway picks it up at once.
async fn add_allowed_ip(
    State(state): State<AppState>,
    caller: Caller,
    Form(form): Form<AllowForm>,
) -> Result<Redirect, WebError> {
    // The free checks first: a typo should not cost a re-authentication attempt or a code.
    let (network, note) =
        check_allowlist_entry(&state, &form.cidr, &form.note).map_err(|e| refused(&e))?;
    let ranges = source_ranges(&state);
    caller.reauth_attempt(&state)?;
    let account = &caller.account;
    let reauthenticated = if account.totp_enabled {
        auth::second_factor::verify(&state.db, account, &form.code, store::now_ms())
            .await
            .map_err(|e| failed(&e))?
            .is_some()
    } else {
        // under the same cap on argon2 work as every other password check
        state
            .password_work
            .verify(Some(account.password_hash.clone()), form.current_password)
            .await?
    };
    if !reauthenticated {
        let detail = json!({ "cidr": network.to_string() });
        log(&state, &caller, "allowlist.reauth_failed", detail).await;
        let outcome = if account.totp_enabled {
            Outcome::WrongCode
        } else {
            Outcome::CurrentPasswordWrong
        };
        return Err(WebError::back_to(outcome, "allowlist"));
    }
    let cidr = network.to_string();
    allowlist::add(&state.db, account.id, &cidr, note, ranges, store::now_ms())
        .await
        .map_err(|e| refused(&e))?;
    state.gateways.refresh_now();
    log(&state, &caller, "allowlist.added", json!({ "cidr": cidr })).await;
    Ok(back_to(Outcome::AllowlistAdded, "allowlist"))
}

/// Back to the allowlist with the reason, or 503 when the database failed.
fn refused(error: &AllowlistError) -> WebError {
    match (refusal(error), error) {
        (Some(outcome), _) => WebError::back_to(outcome, "allowlist"),
        (None, AllowlistError::Store(error)) => failed(error),
        (None, _) => {
            tracing::error!(%error, "adding an allowlist entry failed");
            WebError::Unavailable("try again\n")
        }
    }
}

#[derive(Deserialize)]
struct RemoveForm {
    id: i64,
}

const NO_SUCH_ENTRY: &str = "no such allowlist entry\n";

/// `POST /settings/allowlist/remove`: only the account's own entries; anyone else's id is
/// 404, as if it did not exist.
async fn remove_allowed_ip(
    State(state): State<AppState>,
    caller: Caller,
    Form(form): Form<RemoveForm>,
) -> Result<Redirect, WebError> {
    let entries = allowlist::for_account(&state.db, caller.account.id)
        .await
        .map_err(|e| failed(&e))?;
    let Some(entry) = entries.into_iter().find(|e| e.id.get() == form.id) else {
        return Err(WebError::NotFound(NO_SUCH_ENTRY));
    };
    match allowlist::remove(&state.db, caller.account.id, entry.id).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(WebError::NotFound(NO_SUCH_ENTRY)),
        Err(error) => return Err(failed(&error)),
    }
    state.gateways.refresh_now();
    let detail = json!({ "cidr": entry.cidr });
    log(&state, &caller, "allowlist.removed", detail).await;
    Ok(back_to(Outcome::AllowlistRemoved, "allowlist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_go_back_to_their_section() {
        let response = WebError::back_to(Outcome::NotAnAddress, "allowlist").into_response();
        assert_eq!(response.status(), axum::http::StatusCode::SEE_OTHER);
        assert_eq!(
            response.headers()[axum::http::header::LOCATION],
            "/settings?error=cidr#allowlist"
        );
    }
}
