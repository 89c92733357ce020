//! Payments (one per Paystack transaction reference) and the webhook inbox that makes
//! Paystack's retried deliveries idempotent.

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use crate::{
    AccountId, Db, Page, PaymentId, PlanId, Result, StoreError, SubscriptionId, WebhookEventId,
    get_parsed,
};

crate::text_enum! {
    /// Where a payment stands.
    pub enum PaymentStatus {
        /// Checkout started; Paystack has not confirmed anything yet.
        Pending => "pending",
        /// Paystack confirmed the charge for the expected amount.
        Success => "success",
        /// The charge failed.
        Failed => "failed",
        /// The customer left the checkout.
        Abandoned => "abandoned",
        /// Paystack reported a different amount or currency than we asked for.
        Mismatch => "mismatch",
        /// The money went back.
        Refunded => "refunded",
        /// An automatic renewal paid for a subscription the customer had replaced by then:
        /// nothing was activated and the money is owed back (see [`crate::refunds`]).
        Superseded => "superseded",
    }
}

/// A row of `payments`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Payment {
    /// The payment's id.
    pub id: PaymentId,
    /// Who pays.
    pub account_id: AccountId,
    /// For which plan.
    pub plan_id: PlanId,
    /// Our transaction reference, unique, sent to Paystack.
    pub reference: String,
    /// Amount asked for, in the minor unit.
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Where it stands.
    pub status: PaymentStatus,
    /// Paystack's transaction id, once known.
    pub paystack_transaction_id: Option<i64>,
    /// Card, bank transfer, USSD…, as Paystack reports it.
    pub channel: Option<String>,
    /// When Paystack says it was paid (epoch ms).
    pub paid_at: Option<i64>,
    /// Why it failed or mismatched.
    pub failure_reason: Option<String>,
    /// The subscription it paid for, once granted.
    pub subscription_id: Option<SubscriptionId>,
    /// For an automatic renewal: the subscription it renews.
    pub renewal_of: Option<SubscriptionId>,
    /// For an automatic renewal: the end of the period it renews (one attempt per period).
    pub renewal_period_end: Option<i64>,
    /// For a superseded payment: when its refund was asked of Paystack.
    pub refund_requested_at: Option<i64>,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// Epoch milliseconds.
    pub updated_at: i64,
}

impl FromRow<'_, AnyRow> for Payment {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            account_id: row.try_get("account_id")?,
            plan_id: row.try_get("plan_id")?,
            reference: row.try_get("reference")?,
            amount_minor: row.try_get("amount_minor")?,
            currency: row.try_get("currency")?,
            status: get_parsed(row, "status")?,
            paystack_transaction_id: row.try_get("paystack_transaction_id")?,
            channel: row.try_get("channel")?,
            paid_at: row.try_get("paid_at")?,
            failure_reason: row.try_get("failure_reason")?,
            subscription_id: row.try_get("subscription_id")?,
            renewal_of: row.try_get("renewal_of")?,
            renewal_period_end: row.try_get("renewal_period_end")?,
            refund_requested_at: row.try_get("refund_requested_at")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

pub(crate) const COLUMNS: &str = "id, account_id, plan_id, reference, amount_minor, currency, status, \
                       paystack_transaction_id, channel, paid_at, failure_reason, \
                       subscription_id, renewal_of, renewal_period_end, refund_requested_at, \
                       created_at, updated_at";

/// What the caller asks a pending payment for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment<'a> {
    /// Who pays.
    pub account_id: AccountId,
    /// For which plan.
    pub plan_id: PlanId,
    /// A fresh unique reference.
    pub reference: &'a str,
    /// Amount in the minor unit.
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: &'a str,
}

/// Checks a new payment; returns its trimmed reference and upper-case currency.
pub(crate) fn validated<'a>(new: &NewPayment<'a>) -> Result<(&'a str, String)> {
    let reference = new.reference.trim();
    if reference.is_empty() || reference.len() > 100 {
        return Err(StoreError::Invalid(
            "a payment reference has 1 to 100 characters".to_owned(),
        ));
    }
    if new.amount_minor < 0 {
        return Err(StoreError::Invalid(
            "a payment amount cannot be negative".to_owned(),
        ));
    }
    let currency = new.currency.trim().to_ascii_uppercase();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(StoreError::Invalid(format!(
            "`{currency}` is not a currency code"
        )));
    }
    Ok((reference, currency))
}

/// Records a checkout about to start. `Conflict` if the reference is used already,
/// `NotFound` if the account or plan does not exist.
pub async fn create_pending(db: &Db, new: &NewPayment<'_>, now_ms: i64) -> Result<Payment> {
    let (reference, currency) = validated(new)?;
    let sql = format!(
        "INSERT INTO payments \
             (account_id, plan_id, reference, amount_minor, currency, status, created_at, \
              updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6) RETURNING {COLUMNS}"
    );
    sqlx::query_as::<_, Payment>(&sql)
        .bind(new.account_id)
        .bind(new.plan_id)
        .bind(reference)
        .bind(new.amount_minor)
        .bind(currency)
        .bind(now_ms)
        .fetch_one(db.pool())
        .await
        .map_err(StoreError::conflict_as(format!(
            "payment reference {reference} is used already"
        )))
}

/// The payment with this reference.
pub async fn by_reference(db: &Db, reference: &str) -> Result<Option<Payment>> {
    let sql = format!("SELECT {COLUMNS} FROM payments WHERE reference = $1");
    Ok(sqlx::query_as::<_, Payment>(&sql)
        .bind(reference.trim())
        .fetch_optional(db.pool())
        .await?)
}

/// The account's payments, newest first.
pub async fn list_for_account(db: &Db, account: AccountId, page: Page) -> Result<Vec<Payment>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM payments WHERE account_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
    );
    Ok(sqlx::query_as::<_, Payment>(&sql)
        .bind(account)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(db.pool())
        .await?)
}

/// How a pending payment ended, as verified with Paystack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentOutcome<'a> {
    /// Anything but `Pending`.
    pub status: PaymentStatus,
    /// Paystack's transaction id.
    pub paystack_transaction_id: Option<i64>,
    /// Payment channel.
    pub channel: Option<&'a str>,
    /// When it was paid.
    pub paid_at: Option<i64>,
    /// Why it failed or mismatched.
    pub failure_reason: Option<&'a str>,
    /// A reusable card authorization Paystack returned with a successful charge: [`fulfil`]
    /// keeps it on the new subscription for automatic renewal (without one, a renewal of the
    /// same plan keeps the card saved before).
    pub authorization_code: Option<&'a str>,
}

/// Settles a pending payment. Returns the updated payment only if this call moved it out of
/// `pending`; `None` when it was settled already (the callback and the webhook race for the
/// same payment: exactly one of them wins and grants the plan). `NotFound` if there is no
/// payment with this reference.
pub async fn settle(
    db: &Db,
    reference: &str,
    outcome: &PaymentOutcome<'_>,
    now_ms: i64,
) -> Result<Option<Payment>> {
    if outcome.status == PaymentStatus::Pending {
        return Err(StoreError::Invalid(
            "a payment cannot be settled as pending".to_owned(),
        ));
    }
    let sql = format!(
        "UPDATE payments SET status = $1, paystack_transaction_id = $2, channel = $3, \
             paid_at = $4, failure_reason = $5, updated_at = $6 \
         WHERE reference = $7 AND status = 'pending' RETURNING {COLUMNS}"
    );
    let updated = sqlx::query_as::<_, Payment>(&sql)
        .bind(outcome.status.as_str())
        .bind(outcome.paystack_transaction_id)
        .bind(outcome.channel)
        .bind(outcome.paid_at)
        .bind(outcome.failure_reason)
        .bind(now_ms)
        .bind(reference.trim())
        .fetch_optional(db.pool())
        .await?;
    match updated {
        Some(payment) => Ok(Some(payment)),
        None if by_reference(db, reference).await?.is_some() => Ok(None),
        None => Err(StoreError::NotFound),
    }
}

pub use crate::fulfilment::{
    Fulfilled, GRACE_MS, SUPERSEDED_REASON, fulfil, grace_until, paid_period_end,
};

/// Marks a successful (or superseded) payment refunded.
pub async fn mark_refunded(db: &Db, id: PaymentId, now_ms: i64) -> Result<()> {
    let done = sqlx::query(
        "UPDATE payments SET status = 'refunded', updated_at = $1 WHERE id = $2 \
         AND status IN ('success', 'superseded')",
    )
    .bind(now_ms)
    .bind(id)
    .execute(db.pool())
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Links a payment to the subscription it paid for.
pub async fn link_subscription(
    db: &Db,
    id: PaymentId,
    subscription: SubscriptionId,
    now_ms: i64,
) -> Result<()> {
    let done =
        sqlx::query("UPDATE payments SET subscription_id = $1, updated_at = $2 WHERE id = $3")
            .bind(subscription)
            .bind(now_ms)
            .bind(id)
            .execute(db.pool())
            .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// A received webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct WebhookEvent {
    /// The row's id.
    pub id: WebhookEventId,
    /// What makes a delivery unique (e.g. event name plus transaction or subscription id).
    pub event_key: String,
    /// The event name, e.g. `charge.success`.
    pub event: String,
    /// The raw JSON body.
    pub payload: String,
    /// Epoch milliseconds.
    pub received_at: i64,
    /// When handling succeeded.
    pub processed_at: Option<i64>,
    /// Handling attempts so far.
    pub attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

const EVENT_COLUMNS: &str =
    "id, event_key, event, payload, received_at, processed_at, attempts, last_error";

/// Stores a delivery unless one with the same key was stored before. Returns true when it is
/// new, i.e. when the caller should handle it.
pub async fn insert_if_new(
    db: &Db,
    event_key: &str,
    event: &str,
    payload: &str,
    now_ms: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO webhook_events (event_key, event, payload, received_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (event_key) DO NOTHING",
    )
    .bind(event_key)
    .bind(event)
    .bind(payload)
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The delivery with this key.
pub async fn event_by_key(db: &Db, event_key: &str) -> Result<Option<WebhookEvent>> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM webhook_events WHERE event_key = $1");
    Ok(sqlx::query_as::<_, WebhookEvent>(&sql)
        .bind(event_key)
        .fetch_optional(db.pool())
        .await?)
}

/// Records that handling the delivery succeeded (counting the attempt).
pub async fn mark_processed(db: &Db, event_key: &str, now_ms: i64) -> Result<()> {
    let done = sqlx::query(
        "UPDATE webhook_events SET processed_at = $1, attempts = attempts + 1, last_error = NULL \
         WHERE event_key = $2",
    )
    .bind(now_ms)
    .bind(event_key)
    .execute(db.pool())
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Records a failed handling attempt, to be retried from [`unprocessed`].
pub async fn mark_failed(db: &Db, event_key: &str, error: &str) -> Result<()> {
    let done = sqlx::query(
        "UPDATE webhook_events SET attempts = attempts + 1, last_error = $1 WHERE event_key = $2",
    )
    .bind(error)
    .bind(event_key)
    .execute(db.pool())
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Deliveries not handled yet with fewer than `max_attempts` attempts, oldest first.
pub async fn unprocessed(db: &Db, max_attempts: i64, limit: i64) -> Result<Vec<WebhookEvent>> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM webhook_events \
         WHERE processed_at IS NULL AND attempts < $1 ORDER BY received_at, id LIMIT $2"
    );
    Ok(sqlx::query_as::<_, WebhookEvent>(&sql)
        .bind(max_attempts)
        .bind(limit.clamp(1, Page::MAX_LIMIT))
        .fetch_all(db.pool())
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DAY_MS;

    #[test]
    fn paid_periods_carry_only_the_same_plans_remaining_time() {
        let now = 1_800_000_000_000;
        let (starter, team) = (PlanId(1), PlanId(3));
        for days in [1, 7, 30, 31, 365] {
            assert_eq!(
                paid_period_end(now, days, None, starter),
                now + days * DAY_MS
            );
            for left_days in [0, 1, 10, 29] {
                let current_end = now + left_days * DAY_MS;
                assert_eq!(
                    paid_period_end(now, days, Some((starter, current_end)), starter),
                    now + (days + left_days) * DAY_MS,
                    "renewal with {left_days} days left"
                );
                assert_eq!(
                    paid_period_end(now, days, Some((starter, current_end)), team),
                    now + days * DAY_MS,
                    "an upgrade starts fresh"
                );
            }
            // A period that already ended (grace) carries nothing, never a negative.
            assert_eq!(
                paid_period_end(now, days, Some((starter, now - 3 * DAY_MS)), starter),
                now + days * DAY_MS
            );
        }
        assert_eq!(
            paid_period_end(i64::MAX - 1, 30, None, starter),
            i64::MAX,
            "no overflow"
        );
    }
}
