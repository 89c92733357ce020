//! Sign-in, registration and sign-out as plain HTML form posts, so they work without
//! JavaScript. Outcomes are 303 redirects back to the pages, which show the message; the
//! messages never reveal whether an email has an account.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;
use store::{Db, accounts, activity, credentials};
use tower_sessions::Session;

use super::client_ip::client_ip;
use crate::auth::password_work::WorkError;
use crate::auth::{self, Identity, MAX_EMAIL_LEN, MIN_PASSWORD_LEN, PendingSecondFactor};
use crate::state::AppState;

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
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: Session,
    Form(form): Form<SignInForm>,
) -> Response {
    // Before the email becomes a limiter key or a query: no account has a longer one.
    if !email_fits(&form.email) {
        return Redirect::to("/login?error=email").into_response();
    }
    let ip = client_ip(peer, &headers, &state.config.trusted_proxies);
    if let Err(wait) = state.sign_in_limiter.check(ip, &form.email) {
        return too_many_attempts(wait);
    }
    let now = store::now_ms();
    let account = accounts::by_email(&state.db, &form.email)
        .await
        .ok()
        .flatten();
    let verified = match state
        .password_work
        .verify(
            account.as_ref().map(|a| a.password_hash.clone()),
            form.password.clone(),
        )
        .await
    {
        Ok(verified) => verified,
        Err(refused) => return refused.into_response(),
    };
    let client = Client::of(&headers, ip);
    let account = match account {
        Some(account) if verified => account,
        other => {
            log(&state.db, other.map(|a| a.id), "sign_in.failed", &client).await;
            return Redirect::to("/login?error=credentials").into_response();
        }
    };
    if accounts::needs_rehash(&account.password_hash) {
        rehash(&state, account.id, form.password).await;
    }
    if account.totp_enabled {
        // The password alone is not enough: the code comes on the next page.
        if let Err(error) = PendingSecondFactor::start(&session, account.id, now).await {
            return session_unavailable(&error);
        }
        return Redirect::to("/login/code").into_response();
    }
    if let Err(error) = auth::sign_in(&session, account.id, account.session_epoch, now).await {
        return session_unavailable(&error);
    }
    log(&state.db, Some(account.id), "sign_in.succeeded", &client).await;
    Redirect::to("/").into_response()
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
}

/// `POST /login/code`: the second step for accounts with 2FA, after a correct password in
/// this session within five minutes. Limited like the password step, per IP and account.
async fn second_factor(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: Session,
    Form(form): Form<CodeForm>,
) -> Response {
    let now = store::now_ms();
    let Some(pending) = PendingSecondFactor::current(&session, now).await else {
        return Redirect::to("/login?error=expired").into_response();
    };
    let ip = client_ip(peer, &headers, &state.config.trusted_proxies);
    let client = Client::of(&headers, ip);
    let limiter_key = format!("account:{}", pending.account_id);
    if let Err(wait) = state.reauth_limiter.check(ip, &limiter_key) {
        return too_many_attempts(wait);
    }
    let account = match accounts::by_id(&state.db, pending.account_id).await {
        Ok(Some(account)) if account.totp_enabled => account,
        Ok(_) => return Redirect::to("/login?error=expired").into_response(),
        Err(error) => return unavailable(&error),
    };
    match auth::second_factor::verify(&state.db, &account, &form.code, now).await {
        Ok(Some(factor)) => {
            if let Err(error) =
                auth::sign_in(&session, account.id, account.session_epoch, now).await
            {
                return session_unavailable(&error);
            }
            let event = activity::NewActivity {
                detail: serde_json::json!({ "factor": factor.as_str() }),
                ip: Some(&client.ip),
                user_agent: client.user_agent.as_deref(),
                ..activity::NewActivity::new(Some(account.id), "sign_in.succeeded")
            };
            record(&state.db, &event).await;
            Redirect::to("/").into_response()
        }
        Ok(None) => {
            let event = activity::NewActivity {
                detail: serde_json::json!({ "step": "second_factor" }),
                ip: Some(&client.ip),
                user_agent: client.user_agent.as_deref(),
                ..activity::NewActivity::new(Some(account.id), "sign_in.failed")
            };
            record(&state.db, &event).await;
            match pending.record_failure(&session).await {
                Ok(false) => Redirect::to("/login/code?error=code").into_response(),
                // Enough guessing: the password has to be entered again.
                Ok(true) => {
                    let event = activity::NewActivity {
                        detail: serde_json::json!({
                            "failed_codes": auth::identity::MAX_SECOND_FACTOR_FAILURES
                        }),
                        ip: Some(&client.ip),
                        user_agent: client.user_agent.as_deref(),
                        ..activity::NewActivity::new(
                            Some(account.id),
                            "sign_in.second_factor_abandoned",
                        )
                    };
                    record(&state.db, &event).await;
                    Redirect::to("/login?error=attempts").into_response()
                }
                Err(error) => session_unavailable(&error),
            }
        }
        Err(error) => unavailable(&error),
    }
}

fn session_unavailable(error: &tower_sessions::session::Error) -> Response {
    tracing::error!(%error, "storing the session failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "sign-in is unavailable, try again\n",
    )
        .into_response()
}

fn unavailable(error: &store::StoreError) -> Response {
    tracing::error!(%error, "sign-in failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "sign-in is unavailable, try again\n",
    )
        .into_response()
}

#[derive(Deserialize)]
struct RegisterForm {
    email: String,
    password: String,
}

async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<RegisterForm>,
) -> Response {
    if !email_fits(&form.email) {
        return Redirect::to("/register?error=email").into_response();
    }
    let ip = client_ip(peer, &headers, &state.config.trusted_proxies);
    if let Err(wait) = state.register_limiter.check(ip, &form.email) {
        return too_many_attempts(wait);
    }
    let Ok(email) = accounts::normalize_email(&form.email) else {
        return Redirect::to("/register?error=email").into_response();
    };
    if let Err(reason) = password_policy(&form.password, &email) {
        return Redirect::to(&format!("/register?error={reason}")).into_response();
    }
    let hash = match state.password_work.hash(form.password).await {
        Ok(hash) => hash,
        Err(refused) => return refused.into_response(),
    };
    let now = store::now_ms();
    match accounts::create(&state.db, &email, &hash, accounts::Role::Customer, now).await {
        Ok(account) => {
            if let Err(error) = credentials::create(&state.db, account.id, now).await {
                tracing::error!(%error, "creating proxy credentials failed");
            }
            log(
                &state.db,
                Some(account.id),
                "account.registered",
                &Client::of(&headers, ip),
            )
            .await;
        }
        // Same answer as success: registration must not reveal which emails have accounts.
        Err(store::StoreError::Conflict(_)) => {}
        Err(error) => {
            tracing::error!(%error, "registration failed");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "registration is unavailable\n",
            )
                .into_response();
        }
    }
    Redirect::to("/login?registered=1").into_response()
}

async fn sign_out(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: Session,
) -> Response {
    let identity = Identity::current(&session, store::now_ms()).await;
    if let Err(error) = auth::sign_out(&session).await {
        tracing::warn!(%error, "ending the session failed");
    }
    if let Some(identity) = identity {
        log(
            &state.db,
            Some(identity.account_id),
            "sign_out",
            &Client::of(
                &headers,
                client_ip(peer, &headers, &state.config.trusted_proxies),
            ),
        )
        .await;
    }
    Redirect::to("/login?signed_out=1").into_response()
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

pub fn too_many_attempts(wait: std::time::Duration) -> Response {
    let secs = wait.as_secs().max(1);
    let body = format!(
        "<!DOCTYPE html><title>Too many attempts</title><p>Too many attempts. Try again in {secs} seconds.</p><p><a href=\"/login\">Back to sign-in</a></p>"
    );
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::response::Html(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The client details an activity event records.
pub struct Client {
    /// The client's address (behind trusted proxies, the forwarded one).
    pub ip: String,
    /// Its `User-Agent`, if any.
    pub user_agent: Option<String>,
}

impl Client {
    /// Reads the details from the request.
    pub fn of(headers: &HeaderMap, ip: std::net::IpAddr) -> Client {
        Client {
            ip: ip.to_string(),
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }
    }
}

/// Records an activity event with the client's address and agent.
pub async fn log(db: &Db, account: Option<store::AccountId>, kind: &str, client: &Client) {
    let event = activity::NewActivity {
        ip: Some(&client.ip),
        user_agent: client.user_agent.as_deref(),
        ..activity::NewActivity::new(account, kind)
    };
    record(db, &event).await;
}

/// Records an activity event; a failure is logged, never shown to the customer.
pub async fn record(db: &Db, event: &activity::NewActivity<'_>) {
    if let Err(error) = activity::record(db, event, store::now_ms()).await {
        tracing::warn!(%error, kind = event.kind, "recording activity failed");
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
