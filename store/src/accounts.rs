//! Accounts: sign-in identity, role, second factor and preferences; argon2id password hashing.

use std::sync::OnceLock;

use crate::{AccountId, Column, Db, Flag, Page, RecoveryCodeId, Result, StoreError, flag, found};
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

crate::text_enum! {
    /// What an account may do in the dashboard.
    pub enum Role {
        /// Buys plans and uses the proxy.
        Customer => "customer",
        /// Also manages exits, plans and other accounts.
        Admin => "admin",
    }
}

/// A row of `accounts`. `Debug` leaves out the password hash and TOTP secret.
#[derive(Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct Account {
    /// The account's id.
    pub id: AccountId,
    /// Lower-cased email, unique.
    pub email: String,
    /// The argon2id PHC string of the password.
    #[serde(skip)]
    pub password_hash: String,
    /// Customer or admin.
    pub role: Role,
    /// The TOTP secret (base32) once 2FA setup has started: sealed in the database, opened
    /// here.
    #[serde(skip)]
    pub totp_secret: Option<String>,
    /// Whether sign-in asks for a TOTP code.
    #[sqlx(try_from = "Flag")]
    pub totp_enabled: bool,
    /// IANA time zone for the dashboard's charts, `UTC` by default.
    pub time_zone: String,
    /// Warn the customer when this share of the plan's bandwidth is used (0–100).
    pub quota_warning_percent: i64,
    /// Sessions signed in under an older epoch are no longer valid: raising it signs the
    /// account out everywhere (see [`bump_session_epoch`]).
    pub session_epoch: i64,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// Epoch milliseconds.
    pub updated_at: i64,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("totp_enabled", &self.totp_enabled)
            .field("time_zone", &self.time_zone)
            .field("quota_warning_percent", &self.quota_warning_percent)
            .field("session_epoch", &self.session_epoch)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

/// Opens the sealed TOTP secret of an account just read.
fn opened(db: &Db, mut account: Account) -> Result<Account> {
    if let Some(sealed) = account.totp_secret.take() {
        account.totp_secret = Some(db.keyring().open(
            Column::TotpSecret,
            account.id.get(),
            &sealed,
        )?);
    }
    Ok(account)
}

const COLUMNS: &str = "id, email, password_hash, role, totp_secret, totp_enabled, time_zone, \
                       quota_warning_percent, session_epoch, created_at, updated_at";

/// Trims and lower-cases an email and checks its shape (one `@`, both sides non-empty, no
/// spaces, at most 254 characters). Deliverability is the mailer's problem, not ours.
pub fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if valid {
        Ok(email)
    } else {
        Err(StoreError::Invalid("not a valid email address".to_owned()))
    }
}

/// Creates an account. `password_hash` comes from [`hash_password`]. Fails with `Conflict`
/// when the email (compared lower-cased) is registered already.
pub async fn create(
    db: &Db,
    email: &str,
    password_hash: &str,
    role: Role,
    now_ms: i64,
) -> Result<Account> {
    let email = normalize_email(email)?;
    let sql = format!(
        "INSERT INTO accounts (email, password_hash, role, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING {COLUMNS}"
    );
    sqlx::query_as::<_, Account>(&sql)
        .bind(&email)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now_ms)
        .fetch_one(db.pool())
        .await
        .map_err(StoreError::conflict_as(
            "an account with this email exists already",
        ))
}

/// The account with this id.
pub async fn by_id(db: &Db, id: AccountId) -> Result<Option<Account>> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE id = $1");
    sqlx::query_as::<_, Account>(&sql)
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .map(|a| opened(db, a))
        .transpose()
}

/// The account with this email, compared case-insensitively.
pub async fn by_email(db: &Db, email: &str) -> Result<Option<Account>> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE email = $1");
    sqlx::query_as::<_, Account>(&sql)
        .bind(email.trim().to_lowercase())
        .fetch_optional(db.pool())
        .await?
        .map(|a| opened(db, a))
        .transpose()
}

/// Accounts in id order.
pub async fn list(db: &Db, page: Page) -> Result<Vec<Account>> {
    let sql = format!("SELECT {COLUMNS} FROM accounts ORDER BY id LIMIT $1 OFFSET $2");
    sqlx::query_as::<_, Account>(&sql)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(db.pool())
        .await?
        .into_iter()
        .map(|a| opened(db, a))
        .collect()
}

/// How many accounts exist.
pub async fn count(db: &Db) -> Result<i64> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM accounts")
            .fetch_one(db.pool())
            .await?,
    )
}

/// Replaces the password hash (after a password change or a rehash on sign-in).
pub async fn set_password_hash(db: &Db, id: AccountId, hash: &str, now_ms: i64) -> Result<()> {
    let done = sqlx::query("UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now_ms)
        .bind(id)
        .execute(db.pool())
        .await?;
    found(done.rows_affected())
}

/// Sets a new password and ends every other session in one step: the session epoch goes up.
/// Returns the new epoch, which the caller's own session adopts to stay signed in.
pub async fn change_password(db: &Db, id: AccountId, hash: &str, now_ms: i64) -> Result<i64> {
    sqlx::query_scalar::<_, i64>(
        "UPDATE accounts SET password_hash = $1, session_epoch = session_epoch + 1, \
         updated_at = $2 WHERE id = $3 RETURNING session_epoch",
    )
    .bind(hash)
    .bind(now_ms)
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(StoreError::NotFound)
}

/// Ends every session of the account signed in under the current epoch ("sign out
/// everywhere"). Returns the new epoch.
pub async fn bump_session_epoch(db: &Db, id: AccountId, now_ms: i64) -> Result<i64> {
    sqlx::query_scalar::<_, i64>(
        "UPDATE accounts SET session_epoch = session_epoch + 1, updated_at = $1 WHERE id = $2 \
         RETURNING session_epoch",
    )
    .bind(now_ms)
    .bind(id)
    .fetch_optional(db.pool())
    .await?
    .ok_or(StoreError::NotFound)
}

/// Makes the account a customer or an admin.
pub async fn set_role(db: &Db, id: AccountId, role: Role, now_ms: i64) -> Result<()> {
    let done = sqlx::query("UPDATE accounts SET role = $1, updated_at = $2 WHERE id = $3")
        .bind(role.as_str())
        .bind(now_ms)
        .bind(id)
        .execute(db.pool())
        .await?;
    found(done.rows_affected())
}

/// Stores the TOTP secret, sealed (`None` clears it), and whether sign-in requires a code.
pub async fn set_totp(
    db: &Db,
    id: AccountId,
    secret: Option<&str>,
    enabled: bool,
    now_ms: i64,
) -> Result<()> {
    if enabled && secret.is_none() {
        return Err(StoreError::Invalid(
            "2FA cannot be enabled without a secret".to_owned(),
        ));
    }
    let done = sqlx::query(
        "UPDATE accounts SET totp_secret = $1, totp_enabled = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(secret.map(|s| db.keyring().seal(Column::TotpSecret, id.get(), s)))
    .bind(flag(enabled))
    .bind(now_ms)
    .bind(id)
    .execute(db.pool())
    .await?;
    found(done.rows_affected())
}

/// Accepts TOTP time step `step` for the account if no later or equal step was accepted
/// before: a code works once, even for two sign-ins racing with the same code (RFC 6238
/// §5.2). Returns whether it was accepted.
pub async fn accept_totp_step(db: &Db, id: AccountId, step: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE accounts SET totp_last_step = $1 \
         WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
    )
    .bind(step)
    .bind(id)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Turns 2FA on for an account whose secret is set, and replaces its recovery codes with
/// `code_hashes`, in one transaction.
pub async fn enable_totp(
    db: &Db,
    id: AccountId,
    code_hashes: &[String],
    now_ms: i64,
) -> Result<()> {
    let mut tx = db.pool().begin().await?;
    let done = sqlx::query(
        "UPDATE accounts SET totp_enabled = 1, updated_at = $1 \
         WHERE id = $2 AND totp_secret IS NOT NULL",
    )
    .bind(now_ms)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    found(done.rows_affected())?;
    insert_recovery_codes(&mut tx, id, code_hashes, now_ms).await?;
    tx.commit().await?;
    Ok(())
}

/// Turns 2FA off: the secret, the last accepted step and every recovery code are removed, in
/// one transaction.
pub async fn disable_totp(db: &Db, id: AccountId, now_ms: i64) -> Result<()> {
    let mut tx = db.pool().begin().await?;
    let done = sqlx::query(
        "UPDATE accounts SET totp_secret = NULL, totp_enabled = 0, totp_last_step = NULL, \
         updated_at = $1 WHERE id = $2",
    )
    .bind(now_ms)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    found(done.rows_affected())?;
    insert_recovery_codes(&mut tx, id, &[], now_ms).await?;
    tx.commit().await?;
    Ok(())
}

/// Updates the dashboard preferences: time zone (an IANA name, checked only for shape) and
/// the quota warning threshold in percent.
pub async fn set_preferences(
    db: &Db,
    id: AccountId,
    time_zone: &str,
    quota_warning_percent: i64,
    now_ms: i64,
) -> Result<()> {
    let time_zone = time_zone.trim();
    let tz_ok = !time_zone.is_empty()
        && time_zone.len() <= 64
        && time_zone
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'));
    if !tz_ok {
        return Err(StoreError::Invalid(format!(
            "`{time_zone}` is not a time zone name"
        )));
    }
    if !(0..=100).contains(&quota_warning_percent) {
        return Err(StoreError::Invalid(
            "the quota warning must be 0–100 %".to_owned(),
        ));
    }
    let done = sqlx::query(
        "UPDATE accounts SET time_zone = $1, quota_warning_percent = $2, updated_at = $3 \
         WHERE id = $4",
    )
    .bind(time_zone)
    .bind(quota_warning_percent)
    .bind(now_ms)
    .bind(id)
    .execute(db.pool())
    .await?;
    found(done.rows_affected())
}

/// Deletes the account and, by cascade, everything it owns: credentials, allowlist,
/// recovery codes, subscriptions, payments, usage and its activity log.
pub async fn delete(db: &Db, id: AccountId) -> Result<()> {
    let done = sqlx::query("DELETE FROM accounts WHERE id = $1")
        .bind(id)
        .execute(db.pool())
        .await?;
    found(done.rows_affected())
}

/// A 2FA recovery code, stored hashed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RecoveryCode {
    /// The code's id.
    pub id: RecoveryCodeId,
    /// Whose code it is.
    pub account_id: AccountId,
    /// A hash of the code (the caller chooses the scheme, e.g. [`hash_password`]).
    pub code_hash: String,
    /// When it was used; a code works once.
    pub used_at: Option<i64>,
    /// Epoch milliseconds.
    pub created_at: i64,
}

/// Replaces all of the account's recovery codes with new ones, atomically.
pub async fn replace_recovery_codes(
    db: &Db,
    account: AccountId,
    code_hashes: &[String],
    now_ms: i64,
) -> Result<()> {
    let mut tx = db.pool().begin().await?;
    insert_recovery_codes(&mut tx, account, code_hashes, now_ms).await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes the account's recovery codes and inserts `code_hashes`, inside `tx`.
async fn insert_recovery_codes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    account: AccountId,
    code_hashes: &[String],
    now_ms: i64,
) -> Result<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
        .bind(account)
        .execute(&mut **tx)
        .await?;
    for hash in code_hashes {
        sqlx::query(
            "INSERT INTO recovery_codes (account_id, code_hash, created_at) VALUES ($1, $2, $3)",
        )
        .bind(account)
        .bind(hash)
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The account's recovery codes that have not been used.
pub async fn unused_recovery_codes(db: &Db, account: AccountId) -> Result<Vec<RecoveryCode>> {
    Ok(sqlx::query_as::<_, RecoveryCode>(
        "SELECT id, account_id, code_hash, used_at, created_at FROM recovery_codes \
         WHERE account_id = $1 AND used_at IS NULL ORDER BY id",
    )
    .bind(account)
    .fetch_all(db.pool())
    .await?)
}

/// Marks a code used. Returns false if it was used already (by a concurrent sign-in too),
/// so a code can never let two sign-ins through.
pub async fn use_recovery_code(db: &Db, id: RecoveryCodeId, now_ms: i64) -> Result<bool> {
    let done =
        sqlx::query("UPDATE recovery_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
            .bind(now_ms)
            .bind(id)
            .execute(db.pool())
            .await?;
    Ok(done.rows_affected() == 1)
}

/// OWASP's argon2id recommendation: 19 MiB of memory, 2 passes, 1 lane.
const M_COST_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

fn hasher() -> Result<Argon2<'static>> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None)
        .map_err(|e| StoreError::Invalid(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with argon2id (m=19456 KiB, t=2, p=1) and a fresh random salt, as a PHC
/// string. It takes tens of milliseconds of CPU: call it from `spawn_blocking`.
pub fn hash_password(password: &str) -> Result<String> {
    let hash: PasswordHash = hasher()?
        .hash_password(password.as_bytes())
        .map_err(|e| StoreError::Invalid(format!("cannot hash the password: {e}")))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `hash`; false for a malformed hash. Uses the
/// parameters stored in the hash, so old hashes keep working. CPU-heavy like
/// [`hash_password`].
pub fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Whether a stored hash should be replaced on the next successful sign-in: it is not
/// argon2id v19 with exactly our current parameters (or cannot be parsed at all).
pub fn needs_rehash(hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return true;
    };
    let param = |name: &str| parsed.params.get_decimal(name);
    parsed.algorithm.as_str() != "argon2id"
        || parsed.version != Some(0x13)
        || param("m") != Some(M_COST_KIB)
        || param("t") != Some(T_COST)
        || param("p") != Some(P_COST)
}

/// Spends as long as a real verification, for sign-ins with an unknown email, so response
/// time does not reveal which emails have accounts.
pub fn dummy_verify(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let hash = DUMMY.get_or_init(|| hash_password("dummy password").unwrap_or_default());
    let _ = verify_password(password, hash);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters() {
        let hash = hash_password("correct horse").expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!needs_rehash(&hash));
        // Same password, fresh salt.
        assert_ne!(hash, hash_password("correct horse").expect("hash"));
    }

    #[test]
    fn weaker_or_foreign_hashes_need_rehash() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 1, 1, None).expect("params"),
        )
        .hash_password(b"pw")
        .expect("hash")
        .to_string();
        assert!(verify_password("pw", &weak), "old hashes still verify");
        assert!(needs_rehash(&weak));
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(M_COST_KIB, T_COST, P_COST, None).expect("params"),
        )
        .hash_password(b"pw")
        .expect("hash")
        .to_string();
        assert!(needs_rehash(&argon2i));
        assert!(needs_rehash("$2b$12$notargon"));
        assert!(!verify_password("pw", "garbage"));
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            normalize_email("  Ada@Example.COM ").expect("valid"),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "a da@example.com",
            "a@b@c",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
