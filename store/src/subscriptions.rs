//! Subscriptions: which plan an account has, for which period, and the path from active
//! through grace to expired.

use crate::{AccountId, DAY_MS, Db, Flag, PlanId, Result, StoreError, SubscriptionId, flag, found};

crate::text_enum! {
    /// Where a subscription is in its life.
    pub enum SubscriptionStatus {
        /// Paid for the current period.
        Active => "active",
        /// The period ended without a renewal; service continues until `grace_until`.
        Grace => "grace",
        /// Ended.
        Expired => "expired",
        /// Replaced by another grant, or cancelled by the customer or an operator.
        Cancelled => "cancelled",
    }
}

/// A row of `subscriptions`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct Subscription {
    /// The subscription's id.
    pub id: SubscriptionId,
    /// Whose it is.
    pub account_id: AccountId,
    /// Which plan.
    pub plan_id: PlanId,
    /// Lifecycle state.
    pub status: SubscriptionStatus,
    /// Current period start (epoch ms).
    pub period_start: i64,
    /// Current period end, exclusive (epoch ms).
    pub period_end: i64,
    /// Service continues until then after `period_end`, if set.
    pub grace_until: Option<i64>,
    /// The customer asked not to renew.
    #[sqlx(try_from = "Flag")]
    pub cancel_at_period_end: bool,
    /// Paystack's subscription code, for recurring billing.
    pub paystack_subscription_code: Option<String>,
    /// Paystack's email token, needed to disable the subscription there.
    pub paystack_email_token: Option<String>,
    /// Paystack's reusable card authorization.
    pub authorization_code: Option<String>,
    /// Whether the period is renewed by charging `authorization_code` shortly before it ends
    /// (the customer's setting, carried over to each new period).
    #[sqlx(try_from = "Flag")]
    pub auto_renew: bool,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// Epoch milliseconds.
    pub updated_at: i64,
}

impl Subscription {
    /// Whether it grants service at `now_ms` (see [`live_condition`]).
    pub fn is_live(&self, now_ms: i64) -> bool {
        matches!(
            self.status,
            SubscriptionStatus::Active | SubscriptionStatus::Grace
        ) && self.period_start <= now_ms
            && (self.period_end > now_ms || self.grace_until.is_some_and(|g| g > now_ms))
    }
}

pub(crate) const COLUMNS: &str = "id, account_id, plan_id, status, period_start, period_end, grace_until, \
                       cancel_at_period_end, paystack_subscription_code, paystack_email_token, \
                       authorization_code, auto_renew, created_at, updated_at";

/// SQL that is true when subscription `alias` grants service at the time in placeholder
/// `now`: active or in grace, started, and either inside its period or inside its grace. It
/// reads the times, not only the status, so service stops on time even before
/// [`expire_due`] has run.
pub(crate) fn live_condition(alias: &str, now: &str) -> String {
    format!(
        "({alias}.status IN ('active', 'grace') AND {alias}.period_start <= {now} \
          AND ({alias}.period_end > {now} OR {alias}.grace_until > {now}))"
    )
}

/// SQL for the id of `account`'s newest live subscription at `now` (a column and a
/// placeholder), for joining the current plan onto per-account queries.
pub(crate) fn newest_live_id(account: &str, now: &str) -> String {
    format!(
        "(SELECT s2.id FROM subscriptions s2 WHERE s2.account_id = {account} AND {} \
          ORDER BY s2.period_end DESC, s2.id DESC LIMIT 1)",
        live_condition("s2", now)
    )
}

/// SQL for the bytes `account` used in subscription `sub`'s period up to `now`: from the hour
/// bucket holding the period's start (traffic in the hour a plan starts is charged to it),
/// grace included, exactly as the gateway counts the quota.
pub(crate) fn period_bytes_used(account: &str, sub: &str, now: &str) -> String {
    format!(
        "(SELECT CAST(COALESCE(SUM(u.bytes_up + u.bytes_down), 0) AS BIGINT) \
            FROM usage_hourly u \
           WHERE u.account_id = {account} \
             AND u.hour_start >= {sub}.period_start - ({sub}.period_start % 3600000) \
             AND u.hour_start <= {now})"
    )
}

/// Longest grant: ten years.
const MAX_DAYS: i64 = 3650;

/// Gives the account `plan` for `days` days from `now_ms`, cancelling any live subscription
/// it had, in one transaction. `NotFound` if the account or plan does not exist.
pub async fn grant(
    db: &Db,
    account: AccountId,
    plan: PlanId,
    days: i64,
    now_ms: i64,
) -> Result<Subscription> {
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(StoreError::Invalid(format!(
            "a grant lasts 1 to {MAX_DAYS} days"
        )));
    }
    let mut tx = db.pool().begin().await?;
    sqlx::query(
        "UPDATE subscriptions SET status = 'cancelled', updated_at = $1 \
         WHERE account_id = $2 AND status IN ('active', 'grace')",
    )
    .bind(now_ms)
    .bind(account)
    .execute(&mut *tx)
    .await?;
    let sql = format!(
        "INSERT INTO subscriptions \
             (account_id, plan_id, status, period_start, period_end, created_at, updated_at) \
         VALUES ($1, $2, 'active', $3, $4, $3, $3) RETURNING {COLUMNS}"
    );
    let subscription = sqlx::query_as::<_, Subscription>(&sql)
        .bind(account)
        .bind(plan)
        .bind(now_ms)
        .bind(now_ms + days * DAY_MS)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::conflict_as(
            "another subscription was granted to this account at the same time",
        ))?;
    tx.commit().await?;
    Ok(subscription)
}

/// The subscription that grants the account service at `now_ms`, if any.
pub async fn current(db: &Db, account: AccountId, now_ms: i64) -> Result<Option<Subscription>> {
    current_in(db.pool(), account, now_ms).await
}

/// [`current`], read through `executor` (e.g. inside a transaction).
pub(crate) async fn current_in<'c, E>(
    executor: E,
    account: AccountId,
    now_ms: i64,
) -> Result<Option<Subscription>>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let sql = format!(
        "SELECT {COLUMNS} FROM subscriptions s WHERE s.account_id = $1 AND {} \
         ORDER BY s.period_end DESC, s.id DESC LIMIT 1",
        live_condition("s", "$2")
    );
    Ok(sqlx::query_as::<_, Subscription>(&sql)
        .bind(account)
        .bind(now_ms)
        .fetch_optional(executor)
        .await?)
}

/// The account's subscriptions, newest first.
pub async fn list_for_account(db: &Db, account: AccountId) -> Result<Vec<Subscription>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM subscriptions WHERE account_id = $1 ORDER BY created_at DESC, id DESC"
    );
    Ok(sqlx::query_as::<_, Subscription>(&sql)
        .bind(account)
        .fetch_all(db.pool())
        .await?)
}

/// Moves subscriptions whose time is up along: an active one past `period_end` becomes
/// `cancelled` if the customer asked for that, `grace` if `grace_until` is still ahead, and
/// `expired` otherwise; one in grace past `grace_until` expires. Returns the rows it changed,
/// with their new status, for the caller to notify and log.
pub async fn expire_due(db: &Db, now_ms: i64) -> Result<Vec<Subscription>> {
    let sql = format!(
        "UPDATE subscriptions SET \
             status = CASE \
                 WHEN status = 'active' AND cancel_at_period_end = 1 THEN 'cancelled' \
                 WHEN status = 'active' AND grace_until > $1 THEN 'grace' \
                 ELSE 'expired' END, \
             updated_at = $1 \
         WHERE (status = 'active' AND period_end <= $1) \
            OR (status = 'grace' AND (grace_until IS NULL OR grace_until <= $1)) \
         RETURNING {COLUMNS}"
    );
    let mut changed = sqlx::query_as::<_, Subscription>(&sql)
        .bind(now_ms)
        .fetch_all(db.pool())
        .await?;
    changed.sort_by_key(|s| s.id);
    Ok(changed)
}

/// Sets or clears the grace deadline of a subscription.
pub async fn set_grace_until(
    db: &Db,
    id: SubscriptionId,
    grace_until: Option<i64>,
    now_ms: i64,
) -> Result<()> {
    let done =
        sqlx::query("UPDATE subscriptions SET grace_until = $1, updated_at = $2 WHERE id = $3")
            .bind(grace_until)
            .bind(now_ms)
            .bind(id)
            .execute(db.pool())
            .await?;
    found(done.rows_affected())
}

/// Records whether the customer wants the subscription to end with its period.
pub async fn set_cancel_at_period_end(
    db: &Db,
    id: SubscriptionId,
    cancel: bool,
    now_ms: i64,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE subscriptions SET cancel_at_period_end = $1, updated_at = $2 WHERE id = $3",
    )
    .bind(flag(cancel))
    .bind(now_ms)
    .bind(id)
    .execute(db.pool())
    .await?;
    found(done.rows_affected())
}

/// Paystack's identifiers for recurring billing of this subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaystackDetails<'a> {
    /// `subscription_code`.
    pub subscription_code: Option<&'a str>,
    /// `email_token`.
    pub email_token: Option<&'a str>,
    /// `authorization.authorization_code`.
    pub authorization_code: Option<&'a str>,
}

/// Stores Paystack's identifiers; a `None` leaves the stored value as it is.
pub async fn set_paystack_details(
    db: &Db,
    id: SubscriptionId,
    details: &PaystackDetails<'_>,
    now_ms: i64,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE subscriptions SET \
             paystack_subscription_code = COALESCE($1, paystack_subscription_code), \
             paystack_email_token = COALESCE($2, paystack_email_token), \
             authorization_code = COALESCE($3, authorization_code), \
             updated_at = $4 \
         WHERE id = $5",
    )
    .bind(details.subscription_code)
    .bind(details.email_token)
    .bind(details.authorization_code)
    .bind(now_ms)
    .bind(id)
    .execute(db.pool())
    .await
    .map_err(StoreError::conflict_as(
        "that Paystack subscription code belongs to another subscription",
    ))?;
    found(done.rows_affected())
}

/// The subscription Paystack knows by this code.
pub async fn by_paystack_code(db: &Db, code: &str) -> Result<Option<Subscription>> {
    let sql = format!("SELECT {COLUMNS} FROM subscriptions WHERE paystack_subscription_code = $1");
    Ok(sqlx::query_as::<_, Subscription>(&sql)
        .bind(code)
        .fetch_optional(db.pool())
        .await?)
}

/// Turns automatic renewal on or off for the subscription that grants the account service at
/// `now_ms`. Returns it as changed, or `None` when the account has no live subscription.
pub async fn set_auto_renew(
    db: &Db,
    account: AccountId,
    on: bool,
    now_ms: i64,
) -> Result<Option<Subscription>> {
    let sql = format!(
        "UPDATE subscriptions SET auto_renew = $1, updated_at = $2 \
         WHERE id = (SELECT s.id FROM subscriptions s WHERE s.account_id = $3 AND {} \
                     ORDER BY s.period_end DESC, s.id DESC LIMIT 1) \
         RETURNING {COLUMNS}",
        live_condition("s", "$2")
    );
    Ok(sqlx::query_as::<_, Subscription>(&sql)
        .bind(flag(on))
        .bind(now_ms)
        .bind(account)
        .fetch_optional(db.pool())
        .await?)
}
