//! Proxy credentials (generated username and secret), and the snapshot of every account the
//! gateway authenticates against (the allowlists themselves are in [`crate::allowlist`]). The
//! secret is sealed at rest (see [`crate::sealing`]); every function here returns it opened.

use std::collections::HashMap;

use ipnet::IpNet;
use rand::Rng;
use rand::distr::{Alphanumeric, SampleString};
use sqlx::Row;

use crate::{AccountId, Column, Db, PlanId, Result, StoreError, allowlist, error, subscriptions};

/// Length of a generated proxy username: a letter, then letters and digits.
pub const USERNAME_LEN: usize = 10;
/// Length of a generated proxy secret (alphanumeric, about 143 bits).
pub const SECRET_LEN: usize = 24;

/// A username clash is astronomically unlikely (26·36⁹); retrying a few times covers it.
const USERNAME_ATTEMPTS: usize = 5;

/// An account's proxy credentials. `Debug` leaves out the secret.
#[derive(Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct ProxyCredentials {
    /// Whose credentials these are (one set per account).
    pub account_id: AccountId,
    /// The proxy username: lower case, no `-` (that separates the targeting parameters).
    pub username: String,
    /// The proxy password (sealed in the database, opened here).
    pub secret: String,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// When the secret was last set (creation or regeneration).
    pub rotated_at: i64,
}

impl std::fmt::Debug for ProxyCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyCredentials")
            .field("account_id", &self.account_id)
            .field("username", &self.username)
            .field("created_at", &self.created_at)
            .field("rotated_at", &self.rotated_at)
            .finish_non_exhaustive()
    }
}

fn generate_username() -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let mut name = String::with_capacity(USERNAME_LEN);
    name.push(char::from(LETTERS[rng.random_range(0..LETTERS.len())]));
    for _ in 1..USERNAME_LEN {
        name.push(char::from(ALNUM[rng.random_range(0..ALNUM.len())]));
    }
    name
}

fn generate_secret() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), SECRET_LEN)
}

/// Opens the sealed secret of credentials just read.
fn opened(db: &Db, mut credentials: ProxyCredentials) -> Result<ProxyCredentials> {
    credentials.secret = db.keyring().open(
        Column::ProxySecret,
        credentials.account_id.get(),
        &credentials.secret,
    )?;
    Ok(credentials)
}

/// Generates credentials for an account. `Conflict` if it has some already, `NotFound` if
/// the account does not exist.
pub async fn create(db: &Db, account: AccountId, now_ms: i64) -> Result<ProxyCredentials> {
    let mut last_clash = None;
    for _ in 0..USERNAME_ATTEMPTS {
        let secret = generate_secret();
        let result = sqlx::query_as::<_, ProxyCredentials>(
            "INSERT INTO proxy_credentials (account_id, username, secret, created_at, rotated_at) \
             VALUES ($1, $2, $3, $4, $4) \
             RETURNING account_id, username, secret, created_at, rotated_at",
        )
        .bind(account)
        .bind(generate_username())
        .bind(
            db.keyring()
                .seal(Column::ProxySecret, account.get(), &secret),
        )
        .bind(now_ms)
        .fetch_one(db.pool())
        .await;
        match result {
            Ok(credentials) => {
                return Ok(ProxyCredentials {
                    secret,
                    ..credentials
                });
            }
            Err(err) if error::is_unique_violation(&err) => {
                let message = err
                    .as_database_error()
                    .map(|e| e.message().to_owned())
                    .unwrap_or_default();
                if !message.contains("username") {
                    return Err(StoreError::Conflict(
                        "the account has proxy credentials already".to_owned(),
                    ));
                }
                last_clash = Some(err);
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(last_clash.map_or(StoreError::NotFound, StoreError::Database))
}

/// The account's credentials.
pub async fn by_account(db: &Db, account: AccountId) -> Result<Option<ProxyCredentials>> {
    sqlx::query_as::<_, ProxyCredentials>(
        "SELECT account_id, username, secret, created_at, rotated_at FROM proxy_credentials \
         WHERE account_id = $1",
    )
    .bind(account)
    .fetch_optional(db.pool())
    .await?
    .map(|c| opened(db, c))
    .transpose()
}

/// The credentials with this username (compared lower-cased).
pub async fn by_username(db: &Db, username: &str) -> Result<Option<ProxyCredentials>> {
    sqlx::query_as::<_, ProxyCredentials>(
        "SELECT account_id, username, secret, created_at, rotated_at FROM proxy_credentials \
         WHERE username = $1",
    )
    .bind(username.trim().to_ascii_lowercase())
    .fetch_optional(db.pool())
    .await?
    .map(|c| opened(db, c))
    .transpose()
}

/// Gives the account a new random secret. The username stays, so customers only update the
/// password in their clients. `NotFound` if the account has no credentials.
pub async fn regenerate(db: &Db, account: AccountId, now_ms: i64) -> Result<ProxyCredentials> {
    let secret = generate_secret();
    let credentials = sqlx::query_as::<_, ProxyCredentials>(
        "UPDATE proxy_credentials SET secret = $1, rotated_at = $2 WHERE account_id = $3 \
         RETURNING account_id, username, secret, created_at, rotated_at",
    )
    .bind(
        db.keyring()
            .seal(Column::ProxySecret, account.get(), &secret),
    )
    .bind(now_ms)
    .bind(account)
    .fetch_optional(db.pool())
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok(ProxyCredentials {
        secret,
        ..credentials
    })
}

/// What the gateway needs to know about one account.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
pub struct GatewayAccount {
    /// The account.
    pub account_id: AccountId,
    /// Proxy username.
    pub username: String,
    /// Proxy password (opened from its sealed form).
    pub secret: String,
    /// Source networks allowed to connect; empty means any.
    pub allowlist: Vec<IpNet>,
    /// The live subscription's limits, or `None` when the account has no plan.
    pub plan: Option<GatewayPlan>,
    /// Bytes (up + down) flushed since the current period started; 0 without a plan.
    pub bytes_used: i64,
}

impl std::fmt::Debug for GatewayAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayAccount")
            .field("account_id", &self.account_id)
            .field("username", &self.username)
            .field("allowlist", &self.allowlist)
            .field("plan", &self.plan)
            .field("bytes_used", &self.bytes_used)
            .finish_non_exhaustive()
    }
}

/// The limits of an account's live subscription.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GatewayPlan {
    /// The plan.
    pub plan_id: PlanId,
    /// The plan's name.
    pub name: String,
    /// Requests per second.
    pub requests_per_second: i64,
    /// Concurrent connections.
    pub max_connections: i64,
    /// Bytes per period; `None` is unlimited.
    pub bandwidth_bytes: Option<i64>,
    /// Start of the current period (epoch ms).
    pub period_start: i64,
    /// End of the current period (epoch ms).
    pub period_end: i64,
}

/// Every account that has proxy credentials, with its allowlist, its live plan's limits and
/// the bytes used in the current period, in two queries. The gateway reloads this snapshot
/// periodically, so plan changes reach it without a restart.
///
/// Usage counts from the hour bucket holding `period_start` (traffic in the hour a plan starts
/// is charged to it) up to `now_ms`, grace included, so a lapsed renewal is no free pass.
pub async fn gateway_accounts(db: &Db, now_ms: i64) -> Result<Vec<GatewayAccount>> {
    let sql = format!(
        "SELECT c.account_id, c.username, c.secret, \
                p.id AS plan_id, p.name AS plan_name, p.requests_per_second, p.max_connections, \
                p.bandwidth_bytes, s.period_start, s.period_end, {used} AS bytes_used \
           FROM proxy_credentials c \
           LEFT JOIN subscriptions s ON s.id = {newest} \
           LEFT JOIN plans p ON p.id = s.plan_id \
          ORDER BY c.account_id",
        used = subscriptions::period_bytes_used("c.account_id", "s", "$1"),
        newest = subscriptions::newest_live_id("c.account_id", "$1"),
    );
    let rows = sqlx::query(&sql).bind(now_ms).fetch_all(db.pool()).await?;

    let mut allowlists: HashMap<AccountId, Vec<IpNet>> = HashMap::new();
    let entries = sqlx::query_as::<_, (AccountId, allowlist::Cidr)>(
        "SELECT account_id, cidr FROM ip_allowlist ORDER BY account_id, id",
    )
    .fetch_all(db.pool())
    .await?;
    for (account, allowlist::Cidr(net)) in entries {
        allowlists.entry(account).or_default().push(net);
    }

    let mut accounts = Vec::with_capacity(rows.len());
    for row in &rows {
        let account_id: AccountId = row.try_get("account_id")?;
        let plan_id: Option<PlanId> = row.try_get("plan_id")?;
        let plan = match plan_id {
            Some(plan_id) => Some(GatewayPlan {
                plan_id,
                name: row.try_get("plan_name")?,
                requests_per_second: row.try_get("requests_per_second")?,
                max_connections: row.try_get("max_connections")?,
                bandwidth_bytes: row.try_get("bandwidth_bytes")?,
                period_start: row.try_get("period_start")?,
                period_end: row.try_get("period_end")?,
            }),
            None => None,
        };
        let bytes_used: Option<i64> = row.try_get("bytes_used")?;
        let sealed: String = row.try_get("secret")?;
        accounts.push(GatewayAccount {
            account_id,
            username: row.try_get("username")?,
            secret: db
                .keyring()
                .open(Column::ProxySecret, account_id.get(), &sealed)?,
            allowlist: allowlists.remove(&account_id).unwrap_or_default(),
            bytes_used: if plan.is_some() {
                bytes_used.unwrap_or(0)
            } else {
                0
            },
            plan,
        });
    }
    Ok(accounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_usernames_and_secrets_have_the_documented_shape() {
        for _ in 0..200 {
            let name = generate_username();
            assert_eq!(name.len(), USERNAME_LEN);
            let mut chars = name.chars();
            assert!(
                chars.next().is_some_and(|c| c.is_ascii_lowercase()),
                "{name}"
            );
            assert!(
                chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
                "{name}"
            );
            let secret = generate_secret();
            assert_eq!(secret.len(), SECRET_LEN);
            assert!(
                secret.chars().all(|c| c.is_ascii_alphanumeric()),
                "{secret}"
            );
        }
        assert_ne!(generate_secret(), generate_secret());
    }
}
