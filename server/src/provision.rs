//! Creating a ready-to-use account outside the web flow (the CLI and the development seed):
//! the account, its proxy credentials, and optionally a granted plan.

use store::{Db, accounts, credentials, plans, subscriptions};

/// How long a plan granted without payment lasts.
pub const GRANT_DAYS: i64 = 30;

/// Creates the account with `password`, its proxy credentials, and `plan` for
/// [`GRANT_DAYS`] when given. The email's errors (invalid, taken) come back as
/// `StoreError`s for the caller to attribute.
pub async fn account(
    db: &Db,
    email: &str,
    password: &str,
    role: accounts::Role,
    plan: Option<&plans::Plan>,
) -> Result<(accounts::Account, credentials::ProxyCredentials), store::StoreError> {
    let hash = accounts::hash_password(password)?;
    let now = store::now_ms();
    let account = accounts::create(db, email, &hash, role, now).await?;
    let creds = credentials::create(db, account.id, now).await?;
    if let Some(plan) = plan {
        subscriptions::grant(db, account.id, plan.id, GRANT_DAYS, now).await?;
    }
    Ok((account, creds))
}
