//! Personal access tokens for the public REST API (`/api/v1`): a name, a scope, an optional
//! expiry. The value (`atl_` and 64 hex digits: 32 bytes from the operating system's CSPRNG
//! through `rand`'s thread generator) is returned once by [`create`] and never stored: the
//! table keeps its SHA-256 (a fast hash is enough for a value with 256 random bits, nothing
//! to guess or look up in a dictionary) and its last four characters for display.
//! [`authenticate`] reads the table on every call, so a revoked token stops working at once.

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{AccountId, Db, Result, StoreError, found};

/// Every token value starts with this, so scanners and people recognise one.
pub const PREFIX: &str = "atl_";
/// Random bytes in a token (hex-encoded after the prefix).
const RANDOM_BYTES: usize = 32;
/// Length of a token value: the prefix and 64 hex digits.
pub const TOKEN_LEN: usize = PREFIX.len() + 2 * RANDOM_BYTES;
/// Longest token name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Most tokens an account may hold that are not revoked.
pub const MAX_PER_ACCOUNT: i64 = 25;
/// `last_used_at` is moved (and a use worth logging reported) at most once per this long.
pub const USE_RECORDED_EVERY_MS: i64 = crate::HOUR_MS;

crate::text_enum! {
    /// What a token may do.
    pub enum Scope {
        /// Read-only routes.
        Read => "read",
        /// Every route the account may use, changes included.
        ReadWrite => "read_write",
    }
}

/// A row of `api_tokens` (never the value; the hash is left out too).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct ApiToken {
    /// The token's id.
    pub id: i64,
    /// Whose token it is.
    pub account_id: AccountId,
    /// The name its owner gave it.
    pub name: String,
    /// What it may do.
    pub scope: Scope,
    /// The value's last four characters, for display (`atl_…1a2b`).
    pub last4: String,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// When it stops working, if ever.
    pub expires_at: Option<i64>,
    /// When it was last used (moved at most once an hour).
    pub last_used_at: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

impl ApiToken {
    /// Whether it is neither revoked nor expired at `now_ms`.
    pub fn is_active(&self, now_ms: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now_ms)
    }
}

const COLUMNS: &str =
    "id, account_id, name, scope, last4, created_at, expires_at, last_used_at, revoked_at";

/// The stored form of a token value: its SHA-256, lower-case hex.
pub fn hash(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn generate() -> String {
    let mut bytes = [0u8; RANDOM_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let mut value = String::with_capacity(TOKEN_LEN);
    value.push_str(PREFIX);
    for b in bytes {
        value.push_str(&format!("{b:02x}"));
    }
    value
}

/// Whether `value` has the shape of a token (prefix and 64 lower-case hex digits), checked
/// before any database work.
pub fn looks_like_token(value: &str) -> bool {
    value.len() == TOKEN_LEN
        && value.starts_with(PREFIX)
        && value[PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Makes a token for `account`; returns it and its value, which is not kept anywhere.
/// `Invalid` for an empty or over-long name, an expiry not in the future, or an account
/// that holds [`MAX_PER_ACCOUNT`] tokens already.
pub async fn create(
    db: &Db,
    account: AccountId,
    name: &str,
    scope: Scope,
    expires_at: Option<i64>,
    now_ms: i64,
) -> Result<(ApiToken, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(StoreError::Invalid(format!(
            "a token name has 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    if expires_at.is_some_and(|at| at <= now_ms) {
        return Err(StoreError::Invalid(
            "a token's expiry must be in the future".to_owned(),
        ));
    }
    let held: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM api_tokens WHERE account_id = $1 AND revoked_at IS NULL",
    )
    .bind(account)
    .fetch_one(db.pool())
    .await?;
    if held >= MAX_PER_ACCOUNT {
        return Err(StoreError::Invalid(format!(
            "an account holds at most {MAX_PER_ACCOUNT} tokens: revoke one first"
        )));
    }
    let value = generate();
    let last4 = &value[value.len() - 4..];
    let sql = format!(
        "INSERT INTO api_tokens (account_id, name, scope, token_hash, last4, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    );
    let token = sqlx::query_as::<_, ApiToken>(&sql)
        .bind(account)
        .bind(name)
        .bind(scope.as_str())
        .bind(hash(&value))
        .bind(last4)
        .bind(now_ms)
        .bind(expires_at)
        .fetch_one(db.pool())
        .await
        .map_err(|error| match error.as_database_error() {
            Some(e) if e.is_foreign_key_violation() => StoreError::NotFound,
            _ => StoreError::from(error),
        })?;
    Ok((token, value))
}

/// The account's tokens that are not revoked (expired ones included), newest first.
pub async fn list(db: &Db, account: AccountId) -> Result<Vec<ApiToken>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM api_tokens WHERE account_id = $1 AND revoked_at IS NULL \
         ORDER BY created_at DESC, id DESC"
    );
    Ok(sqlx::query_as::<_, ApiToken>(&sql)
        .bind(account)
        .fetch_all(db.pool())
        .await?)
}

/// Revokes one of the account's tokens; it stops working at once. `NotFound` for another
/// account's token, an unknown id, or one revoked already.
pub async fn revoke(db: &Db, account: AccountId, id: i64, now_ms: i64) -> Result<ApiToken> {
    let sql = format!(
        "UPDATE api_tokens SET revoked_at = $3 \
         WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL RETURNING {COLUMNS}"
    );
    sqlx::query_as::<_, ApiToken>(&sql)
        .bind(id)
        .bind(account)
        .bind(now_ms)
        .fetch_optional(db.pool())
        .await?
        .ok_or(StoreError::NotFound)
}

/// The active token whose value this is: `None` for a malformed, unknown, revoked or expired
/// value (the caller answers them all alike).
pub async fn authenticate(db: &Db, value: &str, now_ms: i64) -> Result<Option<ApiToken>> {
    if !looks_like_token(value) {
        return Ok(None);
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL \
         AND (expires_at IS NULL OR expires_at > $2)"
    );
    Ok(sqlx::query_as::<_, ApiToken>(&sql)
        .bind(hash(value))
        .bind(now_ms)
        .fetch_optional(db.pool())
        .await?)
}

/// Notes a use of the token: moves `last_used_at` to `now_ms` unless it was moved less than
/// [`USE_RECORDED_EVERY_MS`] ago. `true` when it moved, so the caller logs at most one use an
/// hour per token, however often a script calls (a compare-and-set: of racing requests only
/// one wins).
pub async fn note_use(db: &Db, id: i64, now_ms: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE api_tokens SET last_used_at = $2 \
         WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)",
    )
    .bind(id)
    .bind(now_ms)
    .bind(now_ms - USE_RECORDED_EVERY_MS)
    .execute(db.pool())
    .await?;
    Ok(found(done.rows_affected()).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_prefixed_random_hex_and_hash_to_sha256() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(looks_like_token(&a), "{a}");
        assert_eq!(a.len(), TOKEN_LEN);
        assert!(!looks_like_token(&a.to_uppercase()));
        assert!(!looks_like_token(&a[..TOKEN_LEN - 1]));
        assert!(!looks_like_token(&format!("xyz_{}", &a[4..])));
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
