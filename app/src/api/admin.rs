//! The administrator's view of the accounts (exits are on the Servers page). Customers get 403
//! from all of it.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One account as the administrator sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRow {
    /// The account's id.
    pub id: i64,
    /// Sign-in email.
    pub email: String,
    /// Whether it is an administrator.
    pub admin: bool,
    /// Whether it signs in with a second factor.
    pub two_factor: bool,
    /// Created, epoch ms.
    pub created_at: i64,
}

/// Accounts (first 200).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Administration {
    /// How many accounts exist.
    pub account_count: i64,
    /// The first accounts by id.
    pub accounts: Vec<AccountRow>,
}

/// Everything the admin page shows; 403 for customers.
#[server(endpoint = "admin/overview")]
pub async fn admin_overview() -> Result<Administration, ServerFnError> {
    use crate::api::guard;
    let (db, _) = guard::admin()?;
    let unavailable = guard::internal("the administration data is");
    let accounts = store::accounts::list(&db, store::Page::first(200))
        .await
        .map_err(&unavailable)?;
    let account_count = store::accounts::count(&db).await.map_err(&unavailable)?;
    Ok(Administration {
        account_count,
        accounts: accounts
            .into_iter()
            .map(|a| AccountRow {
                id: a.id.get(),
                email: a.email,
                admin: a.role == store::accounts::Role::Admin,
                two_factor: a.totp_enabled,
                created_at: a.created_at,
            })
            .collect(),
    })
}
