//! The administrator's view: every account and every exit. Changes to exits are form posts
//! handled by the server (`/admin/exits…`). Customers get 403 from all of it.

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

/// One exit as the administrator sees it (the upstream's password hidden).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRow {
    /// The exit's id.
    pub id: i64,
    /// The upstream URL without its password.
    pub url: String,
    /// Country tag.
    pub country: String,
    /// City tag.
    pub city: Option<String>,
    /// Pool.
    pub pool: String,
    /// Whether the gateway may use it.
    pub enabled: bool,
    /// Last health verdict.
    pub health: String,
    /// Last measured latency.
    pub last_latency_ms: Option<i64>,
}

/// Accounts (first 200) and exits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Administration {
    /// How many accounts exist.
    pub account_count: i64,
    /// The first accounts by id.
    pub accounts: Vec<AccountRow>,
    /// Every exit.
    pub exits: Vec<ExitRow>,
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
    let exits = store::exits::list(&db).await.map_err(&unavailable)?;
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
        exits: exits
            .into_iter()
            .map(|e| ExitRow {
                id: e.id.get(),
                url: e.display_url(),
                country: e.country,
                city: e.city,
                pool: e.pool,
                enabled: e.enabled,
                health: e.health.as_str().to_owned(),
                last_latency_ms: e.last_latency_ms,
            })
            .collect(),
    })
}
