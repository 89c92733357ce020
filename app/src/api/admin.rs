//! The administrator's view of the accounts and of every IP allowlist entry (exits are on the
//! Servers page). Customers get 403 from all of it.

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

/// One IP allowlist entry with its owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowlistRow {
    /// The entry's id (for removal).
    pub id: i64,
    /// The network, canonical (`203.0.113.7/32`).
    pub cidr: String,
    /// The owner's id.
    pub account_id: i64,
    /// The owner's sign-in email.
    pub email: String,
    /// The owner's label.
    pub note: String,
    /// Whether it overlaps another account's entry (made before one owner per address was
    /// the rule): a dispute to settle.
    pub disputed: bool,
}

/// An account whose metered bytes are not all confirmed in the store yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftRow {
    /// The account's id.
    pub account_id: i64,
    /// Its sign-in email (empty if the account is gone).
    pub email: String,
    /// Bytes metered and not yet confirmed written.
    pub bytes: u64,
    /// The oldest hour with drift, in the administrator's zone.
    pub since: String,
}

/// Accounts (first 200) and allowlist entries (first 500).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Administration {
    /// How many accounts exist.
    pub account_count: i64,
    /// The first accounts by id.
    pub accounts: Vec<AccountRow>,
    /// How many allowlist entries exist.
    pub allowlist_count: i64,
    /// The first allowlist entries by network.
    pub allowlist: Vec<AllowlistRow>,
    /// When the gateways last drained their usage counts for a flush, in the administrator's
    /// zone; `None` before the first flush.
    pub drained_at: Option<String>,
    /// Accounts with usage drift, most first.
    pub drift: Vec<DriftRow>,
}

/// Everything the admin page shows; 403 for customers.
#[server(endpoint = "admin/overview")]
pub async fn admin_overview() -> Result<Administration, ServerFnError> {
    use crate::api::{access, zone};
    let (db, viewer) = access::admin()?;
    let unavailable = access::internal("the administration data is");
    let tz = zone::of(&db, viewer).await;
    let reconciliation = use_context::<crate::api::usage::ssr::ReconciliationSource>()
        .map(|source| (source.0)())
        .unwrap_or_default();
    let mut drift = Vec::with_capacity(reconciliation.drift.len());
    for &(account_id, bytes, oldest_hour_ms) in &reconciliation.drift {
        let email = store::accounts::by_id(&db, store::AccountId(account_id))
            .await
            .map_err(&unavailable)?
            .map(|a| a.email)
            .unwrap_or_default();
        drift.push(DriftRow {
            account_id,
            email,
            bytes,
            since: zone::date_time(tz, oldest_hour_ms),
        });
    }
    drift.sort_by_key(|d| std::cmp::Reverse(d.bytes));
    let accounts = store::accounts::list(&db, store::Page::first(200))
        .await
        .map_err(&unavailable)?;
    let account_count = store::accounts::count(&db).await.map_err(&unavailable)?;
    let entries = store::allowlist::all(&db, store::Page::first(500))
        .await
        .map_err(&unavailable)?;
    let allowlist_count = store::allowlist::count_all(&db)
        .await
        .map_err(&unavailable)?;
    let allowlist = entries
        .iter()
        .map(|owned| {
            let entry = &owned.entry;
            AllowlistRow {
                id: entry.id.get(),
                cidr: entry.cidr.to_string(),
                account_id: entry.account_id.get(),
                email: owned.email.clone(),
                note: entry.note.clone(),
                disputed: entries.iter().any(|other| {
                    other.entry.account_id != entry.account_id
                        && store::allowlist::overlaps(&other.entry.cidr, &entry.cidr)
                }),
            }
        })
        .collect();
    Ok(Administration {
        drained_at: reconciliation
            .drained_at_ms
            .map(|ms| zone::date_time(tz, ms)),
        drift,
        allowlist_count,
        allowlist,
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
