//! Checking a second factor: a TOTP code from the authenticator app (each time step accepted
//! once) or one of the account's one-time recovery codes.

use store::accounts::{self, Account};
use store::{Db, StoreError};

use super::{recovery_codes, totp};

/// Which second factor was accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecondFactor {
    /// A code from the authenticator app.
    Totp,
    /// A recovery code, now used up.
    RecoveryCode,
}

impl SecondFactor {
    /// How activity events name it.
    pub fn as_str(self) -> &'static str {
        match self {
            SecondFactor::Totp => "totp",
            SecondFactor::RecoveryCode => "recovery_code",
        }
    }
}

/// Checks `code` for an account with 2FA on. A TOTP code is accepted once per time step; a
/// recovery code once ever. `None` when it is neither.
pub async fn verify(
    db: &Db,
    account: &Account,
    code: &str,
    now_ms: i64,
) -> Result<Option<SecondFactor>, StoreError> {
    let Some(secret) = account.totp_secret.as_deref() else {
        return Ok(None);
    };
    if let Some(step) = totp::check_code(secret, code, totp::unix_secs(now_ms)) {
        let fresh = accounts::accept_totp_step(db, account.id, step).await?;
        return Ok(fresh.then_some(SecondFactor::Totp));
    }
    for candidate in accounts::unused_recovery_codes(db, account.id).await? {
        if recovery_codes::matches(code, &candidate.code_hash) {
            let first_use = accounts::use_recovery_code(db, candidate.id, now_ms).await?;
            return Ok(first_use.then_some(SecondFactor::RecoveryCode));
        }
    }
    Ok(None)
}
