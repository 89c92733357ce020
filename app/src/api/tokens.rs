//! Settings › API tokens: the viewer's personal access tokens for the public REST API
//! (`/api/v1`), making one (its value shown once) and revoking one. Each change is an
//! activity event (`api_token.created`, `api_token.revoked`); the value is never logged.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Longest expiry a token may be given, in days.
pub const MAX_EXPIRY_DAYS: i64 = 365;

/// A token as Settings lists it (never its value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRow {
    /// The token's id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// `read` or `read_write`.
    pub scope: String,
    /// The value's last four characters (`atl_…1a2b`).
    pub last4: String,
    /// When it was made, in the viewer's zone.
    pub created: String,
    /// When it stops working, in the viewer's zone; `None`: never.
    pub expires: Option<String>,
    /// Past its expiry.
    pub expired: bool,
    /// When it was last used (to the hour), in the viewer's zone.
    pub last_used: Option<String>,
}

/// A token just made, with its value: shown once, kept nowhere.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    /// The token.
    pub token: TokenRow,
    /// Its value (`atl_…`).
    pub value: String,
}

/// The signed-in account's tokens, newest first (revoked ones are gone).
#[server(endpoint = "tokens")]
pub async fn my_tokens() -> Result<Vec<TokenRow>, ServerFnError> {
    use crate::api::{access, zone};
    let (db, account) = access::signed_in()?;
    let tz = zone::of(&db, account).await;
    let tokens = store::api_tokens::list(&db, account)
        .await
        .map_err(access::internal("your API tokens are"))?;
    let now = store::now_ms();
    Ok(tokens.into_iter().map(|t| ssr::row(t, tz, now)).collect())
}

/// Makes a token named `name` with `scope` (`read` or `read_write`), expiring after
/// `expires_in_days` days (empty: never).
#[server(endpoint = "tokens/create")]
pub async fn create_token(
    name: String,
    scope: String,
    expires_in_days: String,
) -> Result<CreatedToken, ServerFnError> {
    use crate::api::{access, zone};
    use store::api_tokens::Scope;
    let (db, account) = access::signed_in()?;
    let refuse = |message: &str| {
        access::set_status(http::StatusCode::UNPROCESSABLE_ENTITY);
        ServerFnError::new(message)
    };
    let scope = match scope.as_str() {
        "read" => Scope::Read,
        "read_write" => Scope::ReadWrite,
        _ => return Err(refuse("choose read or read and write")),
    };
    let now = store::now_ms();
    let expires_at = match expires_in_days.trim() {
        "" => None,
        days => match days.parse::<i64>() {
            Ok(d) if (1..=MAX_EXPIRY_DAYS).contains(&d) => Some(now + d * store::DAY_MS),
            _ => {
                return Err(refuse(&format!(
                    "the expiry is 1 to {MAX_EXPIRY_DAYS} days, or never"
                )));
            }
        },
    };
    let (token, value) =
        match store::api_tokens::create(&db, account, &name, scope, expires_at, now).await {
            Ok(made) => made,
            Err(store::StoreError::Invalid(message)) => return Err(refuse(&message)),
            Err(error) => return Err(access::internal("making a token is")(error)),
        };
    ssr::log(
        &db,
        account,
        "api_token.created",
        serde_json::json!({ "token_id": token.id, "name": token.name, "scope": token.scope }),
    )
    .await;
    let tz = zone::of(&db, account).await;
    Ok(CreatedToken {
        token: ssr::row(token, tz, now),
        value,
    })
}

/// Revokes one of the account's tokens: it stops working at once. Another account's id is
/// 404, as if it did not exist.
#[server(endpoint = "tokens/revoke")]
pub async fn revoke_token(id: i64) -> Result<(), ServerFnError> {
    use crate::api::access;
    let (db, account) = access::signed_in()?;
    match store::api_tokens::revoke(&db, account, id, store::now_ms()).await {
        Ok(token) => {
            let detail = serde_json::json!({ "token_id": token.id, "name": token.name });
            ssr::log(&db, account, "api_token.revoked", detail).await;
            Ok(())
        }
        Err(store::StoreError::NotFound) => {
            access::set_status(http::StatusCode::NOT_FOUND);
            Err(ServerFnError::new("no such token"))
        }
        Err(error) => Err(access::internal("revoking a token is")(error)),
    }
}

/// Server side: rows and activity entries.
#[cfg(feature = "ssr")]
mod ssr {
    use chrono_tz::Tz;

    use super::TokenRow;
    use crate::api::zone;

    pub fn row(t: store::api_tokens::ApiToken, tz: Tz, now: i64) -> TokenRow {
        TokenRow {
            expired: !t.is_active(now),
            id: t.id,
            name: t.name,
            scope: t.scope.as_str().to_owned(),
            last4: t.last4,
            created: zone::date_time(tz, t.created_at),
            expires: t.expires_at.map(|ms| zone::date_time(tz, ms)),
            last_used: t.last_used_at.map(|ms| zone::date_time(tz, ms)),
        }
    }

    /// Best effort, like every activity entry.
    pub async fn log(
        db: &store::Db,
        account: store::AccountId,
        kind: &str,
        detail: serde_json::Value,
    ) {
        let event = store::activity::NewActivity {
            detail,
            ..store::activity::NewActivity::new(Some(account), kind)
        };
        if let Err(error) = store::activity::record(db, &event, store::now_ms()).await {
            tracing::warn!(%error, kind, "recording activity failed");
        }
    }
}
