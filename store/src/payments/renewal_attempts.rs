//! Automatic renewals: which subscriptions are due for one, and the single attempt per period,
//! recorded as a pending payment (like a checkout's) before the saved card is charged. The
//! unique `(renewal_of, renewal_period_end)` index makes that attempt happen once, however
//! many housekeeping runs race for it and however often the service restarts.

use super::{COLUMNS as PAYMENT_COLUMNS, NewPayment, Payment, validated};
use crate::subscriptions::{COLUMNS as SUBSCRIPTION_COLUMNS, Subscription, live_condition};
use crate::{AccountId, Db, Page, Result, SubscriptionId};

/// Live subscriptions due for an automatic renewal: automatic renewal on, not cancelled at
/// the period's end, a saved card, a period that ends at or before `ends_by`, no attempt
/// recorded for that period yet (see [`record_attempt`]), and no checkout of the account
/// started since `checkout_since` still pending (the customer may be switching plans: the
/// renewal waits rather than charge for a period they are leaving). Soonest first, at most
/// `limit`.
pub async fn due(
    db: &Db,
    now_ms: i64,
    ends_by: i64,
    checkout_since: i64,
    limit: i64,
) -> Result<Vec<Subscription>> {
    let sql = format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions s \
         WHERE {} AND s.auto_renew = 1 AND s.cancel_at_period_end = 0 \
           AND s.authorization_code IS NOT NULL AND s.period_end <= $2 \
           AND NOT EXISTS (SELECT 1 FROM payments p \
                           WHERE p.renewal_of = s.id AND p.renewal_period_end = s.period_end) \
           AND NOT EXISTS (SELECT 1 FROM payments c \
                           WHERE c.account_id = s.account_id AND c.status = 'pending' \
                             AND c.renewal_of IS NULL AND c.created_at >= $3) \
         ORDER BY s.period_end, s.id LIMIT $4",
        live_condition("s", "$1")
    );
    Ok(sqlx::query_as::<_, Subscription>(&sql)
        .bind(now_ms)
        .bind(ends_by)
        .bind(checkout_since)
        .bind(limit.clamp(1, Page::MAX_LIMIT))
        .fetch_all(db.pool())
        .await?)
}

/// Records the one renewal attempt for the period of `subscription` that ends at
/// `period_end`: a pending payment, made before anything is charged. Returns `None` when an
/// attempt for that period was recorded already (by a concurrent run, or before a restart):
/// the caller must then charge nothing. `NotFound` if the account, plan or subscription does
/// not exist, `Invalid` for a malformed reference, amount or currency.
pub async fn record_attempt(
    db: &Db,
    new: &NewPayment<'_>,
    subscription: SubscriptionId,
    period_end: i64,
    now_ms: i64,
) -> Result<Option<Payment>> {
    let (reference, currency) = validated(new)?;
    let sql = format!(
        "INSERT INTO payments \
             (account_id, plan_id, reference, amount_minor, currency, status, renewal_of, \
              renewal_period_end, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $8) \
         ON CONFLICT DO NOTHING RETURNING {PAYMENT_COLUMNS}"
    );
    Ok(sqlx::query_as::<_, Payment>(&sql)
        .bind(new.account_id)
        .bind(new.plan_id)
        .bind(reference)
        .bind(new.amount_minor)
        .bind(currency)
        .bind(subscription)
        .bind(period_end)
        .bind(now_ms)
        .fetch_optional(db.pool())
        .await?)
}

/// Whether an automatic renewal of `account` is being charged (recorded, not settled yet):
/// a checkout waits for it rather than race it.
pub async fn in_flight(db: &Db, account: AccountId) -> Result<bool> {
    Ok(sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM payments \
         WHERE account_id = $1 AND status = 'pending' AND renewal_of IS NOT NULL",
    )
    .bind(account)
    .fetch_one(db.pool())
    .await?
        > 0)
}

/// Renewal attempts still pending that were recorded before `created_before`, oldest first:
/// the charge's answer may have been lost, so the caller verifies them again.
pub async fn pending(db: &Db, created_before: i64, limit: i64) -> Result<Vec<Payment>> {
    let sql = format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments \
         WHERE status = 'pending' AND renewal_of IS NOT NULL AND created_at < $1 \
         ORDER BY created_at, id LIMIT $2"
    );
    Ok(sqlx::query_as::<_, Payment>(&sql)
        .bind(created_before)
        .bind(limit.clamp(1, Page::MAX_LIMIT))
        .fetch_all(db.pool())
        .await?)
}
