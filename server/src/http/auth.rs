//! Sign-in, registration and sign-out as plain HTML form posts, so they work without
//! JavaScript. Outcomes are 303 redirects back to the pages, which show the message; the
//! messages never reveal whether an email has an account.

use std::time::Duration;

use app::outcome::Outcome;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Redirect;
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use store::{accounts, credentials};
use tower_sessions::Session;

use super::client_ip::ClientIp;
use super::web_error::{WebError, back};
use crate::activity::Client;
use crate::auth::password_work::WorkError;
use crate::auth::{self, Identity, MAX_EMAIL_LEN, MIN_PASSWORD_LEN, PendingSecondFactor};
use crate::state::AppState;
use crate::telemetry::count_sign_in;

/// zxcvbn's score (0–4) a new password must reach: 3 is "safely unguessable".
const MIN_PASSWORD_SCORE: zxcvbn::Score = zxcvbn::Score::Three;

/// The sign-in steps: `POST /login`, `POST /login/code`, `POST /register`.
pub fn sign_in_router() -> Router<AppState> {
    Router::new()
        .route("/login", post(sign_in))
        .route("/login/code", post(second_factor))
        .route("/register", post(register))
}

/// `POST /logout`.
pub fn sign_out_router() -> Router<AppState> {
    Router::new().route("/logout", post(sign_out))
}

#[derive(Deserialize)]
struct SignInForm {
    email: String,
    password: String,
}

async fn sign_in(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    session: Session,
    Form(form): Form<SignInForm>,
) -> Result<Redirect, WebError> {
    // Before the email becomes a limiter key or a query: no account has a longer one.
    if !email_fits(&form.email) {
        count_sign_in("failed");
        return Err(WebError::back(Outcome::SignInEmailTooLong));
    }
    state
        .sign_in_limiter
        .check(ip, &form.email)
        .map_err(limited)?;
    let now = store::now_ms();
    let account = accounts::by_email(&state.db, &form.email)
        .await
        .ok()
        .flatten();
    let verified = state
        .password_work
        .verify(
            account.as_ref().map(|a| a.password_hash.clone()),
            form.password.clone(),
        )
        .await?;
    let client = Client::of(&headers, ip);
    let account = match account {
        Some(account) if verified => account,
        other => {
            let kind = "sign_in.failed";
            client
                .record(&state.db, other.map(|a| a.id), kind, Value::Null)
                .await;
            count_sign_in("failed");
            return Err(WebError::back(Outcome::WrongCredentials));
        }
    };
    if accounts::needs_rehash(&account.password_hash) {
        rehash(&state, account.id, form.password).await;
    }
    if account.totp_enabled {
        // The password alone is not enough: the code comes on the next page.
        PendingSecondFactor::start(&session, account.id, now)
            .await
            .map_err(|e| session_unavailable(&e))?;
        count_sign_in("second_factor");
        return Ok(Redirect::to("/login/code"));
    }
    auth::sign_in(&session, account.id, account.session_epoch, now)
        .await
        .map_err(|e| session_unavailable(&e))?;
    let kind = "sign_in.succeeded";
    client
        .record(&state.db, Some(account.id), kind, Value::Null)
        .await;
    count_sign_in("succeeded");
    Ok(Redirect::to("/"))
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
}

/// `POST /login/code`: the second step for accounts with 2FA, after a correct password in
/// this session within five minutes. Limited like the password step, per IP and account.
async fn second_factor(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    session: Session,
    Form(form): Form<CodeForm>,
) -> Result<Redirect, WebError> {
    let now = store::now_ms();
    let Some(pending) = PendingSecondFactor::current(&session, now).await else {
        return Err(WebError::back(Outcome::SignInExpired));
    };
    let client = Client::of(&headers, ip);
    let limiter_key = format!("account:{}", pending.account_id);
    state
        .reauth_limiter
        .check(ip, &limiter_key)
        .map_err(limited)?;
    let account = match accounts::by_id(&state.db, pending.account_id).await {
        Ok(Some(account)) if account.totp_enabled => account,
        Ok(_) => return Err(WebError::back(Outcome::SignInExpired)),
        Err(error) => return Err(unavailable(&error)),
    };
    let verified = auth::second_factor::verify(&state.db, &account, &form.code, now)
        .await
        .map_err(|e| unavailable(&e))?;
    if let Some(factor) = verified {
        auth::sign_in(&session, account.id, account.session_epoch, now)
            .await
            .map_err(|e| session_unavailable(&e))?;
        let detail = json!({ "factor": factor.as_str() });
        let kind = "sign_in.succeeded";
        client
            .record(&state.db, Some(account.id), kind, detail)
            .await;
        count_sign_in("succeeded");
        return Ok(Redirect::to("/"));
    }
    let detail = json!({ "step": "second_factor" });
    let kind = "sign_in.failed";
    client
        .record(&state.db, Some(account.id), kind, detail)
        .await;
    count_sign_in("failed");
    let gave_up = pending
        .record_failure(&session)
        .await
        .map_err(|e| session_unavailable(&e))?;
    if !gave_up {
        return Err(WebError::back(Outcome::WrongSignInCode));
    }
    // Enough guessing: the password has to be entered again.
    let detail = json!({ "failed_codes": auth::identity::MAX_SECOND_FACTOR_FAILURES });
    let kind = "sign_in.second_factor_abandoned";
    client
        .record(&state.db, Some(account.id), kind, detail)
        .await;
    Err(WebError::back(Outcome::TooManyWrongCodes))
}

/// A sign-in step refused by its limiter, counted as such.
fn limited(retry: Duration) -> WebError {
    count_sign_in("limited");
    WebError::TooManyAttempts(retry)
}

const SIGN_IN_UNAVAILABLE: &str = "sign-in is unavailable, try again\n";

fn session_unavailable(error: &tower_sessions::session::Error) -> WebError {
    tracing::error!(%error, "storing the session failed");
    WebError::Unavailable(SIGN_IN_UNAVAILABLE)
}

fn unavailable(error: &store::StoreError) -> WebError {
    tracing::error!(%error, "sign-in failed");
    WebError::Unavailable(SIGN_IN_UNAVAILABLE)
}

#[derive(Deserialize)]
struct RegisterForm {
    email: String,
    password: String,
}

async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<RegisterForm>,
) -> Result<Redirect, WebError> {
    if !email_fits(&form.email) {
        return Err(WebError::back(Outcome::RegisterEmailInvalid));
    }
    state
        .register_limiter
        .check(ip, &form.email)
        .map_err(WebError::TooManyAttempts)?;
    let Ok(email) = accounts::normalize_email(&form.email) else {
        return Err(WebError::back(Outcome::RegisterEmailInvalid));
    };
    if let Err(reason) = password_policy(&form.password, &email) {
        let outcome = match reason {
            "short" => Outcome::RegisterPasswordShort,
            _ => Outcome::RegisterPasswordWeak,
        };
        return Err(WebError::back(outcome));
    }
    let hash = state.password_work.hash(form.password).await?;
    let now = store::now_ms();
    match accounts::create(&state.db, &email, &hash, accounts::Role::Customer, now).await {
        Ok(account) => {
            if let Err(error) = credentials::create(&state.db, account.id, now).await {
                tracing::error!(%error, "creating proxy credentials failed");
            }
            let client = Client::of(&headers, ip);
            let kind = "account.registered";
            client
                .record(&state.db, Some(account.id), kind, Value::Null)
                .await;
        }
        // Same answer as success: registration must not reveal which emails have accounts.
        Err(store::StoreError::Conflict(_)) => {}
        Err(error) => {
            tracing::error!(%error, "registration failed");
            return Err(WebError::Unavailable("registration is unavailable\n"));
        }
    }
    Ok(back(Outcome::Registered))
}

async fn sign_out(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    session: Session,
) -> Redirect {
    let identity = Identity::current(&session, store::now_ms())
        .await
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "reading the session to sign out failed");
            None
        });
    if let Err(error) = auth::sign_out(&session).await {
        tracing::warn!(%error, "ending the session failed");
    }
    if let Some(identity) = identity {
        let client = Client::of(&headers, ip);
        let account = Some(identity.account_id);
        client
            .record(&state.db, account, "sign_out", Value::Null)
            .await;
    }
    back(Outcome::SignedOut)
}

/// Checks a new password: long enough, and not guessable (zxcvbn, with the email as context).
/// Returns the page's error key.
pub fn password_policy(password: &str, email: &str) -> Result<(), &'static str> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err("short");
    }
    let local = email.split('@').next().unwrap_or(email);
    if zxcvbn::zxcvbn(password, &[email, local]).score() < MIN_PASSWORD_SCORE {
        return Err("weak");
    }
    Ok(())
}

/// Whether a submitted email is short enough to be anyone's (RFC 5321: 254 bytes), checked
/// before it is used at all.
pub fn email_fits(email: &str) -> bool {
    email.trim().len() <= MAX_EMAIL_LEN
}

/// Re-hashes with today's parameters; skipped (until the next sign-in) when every password
/// slot is busy.
async fn rehash(state: &AppState, account: store::AccountId, password: String) {
    let hash = match state.password_work.hash(password).await {
        Ok(hash) => hash,
        Err(WorkError::Busy) => return,
        Err(error) => {
            tracing::warn!(%error, "re-hashing the password failed");
            return;
        }
    };
    if let Err(error) =
        accounts::set_password_hash(&state.db, account, &hash, store::now_ms()).await
    {
        tracing::warn!(%error, "re-hashing the password failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_must_be_long_and_unguessable() {
        assert_eq!(password_policy("short", "a@example.com"), Err("short"));
        assert_eq!(password_policy("password123", "a@example.com"), Err("weak"));
        assert_eq!(
            password_policy("aaaaaaaaaaaa", "a@example.com"),
            Err("weak")
        );
        assert_eq!(
            password_policy("alice.smith2024", "alice.smith@example.com"),
            Err("weak")
        );
        assert_eq!(
            password_policy("violet-kettle-orbit-91", "a@example.com"),
            Ok(())
        );
    }
}
