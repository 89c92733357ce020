//! Plans: price and limits. Seeded by migration, edited in the database by operators.

use crate::{AccountId, Db, Flag, PlanId, Result, found};

/// A row of `plans`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct Plan {
    /// The plan's id.
    pub id: PlanId,
    /// Unique, compared case-insensitively.
    pub name: String,
    /// Price per period in the currency's minor unit (kobo for NGN).
    pub price_minor: i64,
    /// ISO 4217 code, `NGN` by default.
    pub currency: String,
    /// Requests per second the gateway allows.
    pub requests_per_second: i64,
    /// Concurrent connections the gateway allows.
    pub max_connections: i64,
    /// Bytes (up + down) per period; `None` is unlimited.
    pub bandwidth_bytes: Option<i64>,
    /// Length of one period.
    pub period_days: i64,
    /// Whether customers can buy it (the internal Unlimited plan cannot).
    #[sqlx(try_from = "Flag")]
    pub for_sale: bool,
    /// Paystack's code for the matching recurring plan, once created there.
    pub paystack_plan_code: Option<String>,
    /// Display order, ascending.
    pub sort_order: i64,
}

const COLUMNS: &str = "id, name, price_minor, currency, requests_per_second, max_connections, \
                       bandwidth_bytes, period_days, for_sale, paystack_plan_code, sort_order";

/// Every plan, in display order.
pub async fn list(db: &Db) -> Result<Vec<Plan>> {
    let sql = format!("SELECT {COLUMNS} FROM plans ORDER BY sort_order, id");
    Ok(sqlx::query_as::<_, Plan>(&sql).fetch_all(db.pool()).await?)
}

/// The plans customers can buy, in display order.
pub async fn for_sale(db: &Db) -> Result<Vec<Plan>> {
    let sql = format!("SELECT {COLUMNS} FROM plans WHERE for_sale = 1 ORDER BY sort_order, id");
    Ok(sqlx::query_as::<_, Plan>(&sql).fetch_all(db.pool()).await?)
}

/// The plan with this id.
pub async fn by_id(db: &Db, id: PlanId) -> Result<Option<Plan>> {
    let sql = format!("SELECT {COLUMNS} FROM plans WHERE id = $1");
    Ok(sqlx::query_as::<_, Plan>(&sql)
        .bind(id)
        .fetch_optional(db.pool())
        .await?)
}

/// The plan of `account`'s newest live subscription at `now_ms`, in one query (`None`: no
/// live subscription).
pub async fn current_for_account(db: &Db, account: AccountId, now_ms: i64) -> Result<Option<Plan>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM plans WHERE id = \
         (SELECT plan_id FROM subscriptions WHERE id = {newest})",
        newest = crate::subscriptions::newest_live_id("$1", "$2")
    );
    Ok(sqlx::query_as::<_, Plan>(&sql)
        .bind(account)
        .bind(now_ms)
        .fetch_optional(db.pool())
        .await?)
}

/// The plan with this name, ignoring case (`starter` finds `Starter`).
pub async fn by_name(db: &Db, name: &str) -> Result<Option<Plan>> {
    let sql = format!("SELECT {COLUMNS} FROM plans WHERE lower(name) = lower($1)");
    Ok(sqlx::query_as::<_, Plan>(&sql)
        .bind(name.trim())
        .fetch_optional(db.pool())
        .await?)
}

/// Records Paystack's plan code after the plan was created there (`None` forgets it).
pub async fn set_paystack_plan_code(db: &Db, id: PlanId, code: Option<&str>) -> Result<()> {
    let done = sqlx::query("UPDATE plans SET paystack_plan_code = $1 WHERE id = $2")
        .bind(code)
        .bind(id)
        .execute(db.pool())
        .await?;
    found(done.rows_affected())
}
