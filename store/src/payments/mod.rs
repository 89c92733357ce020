//! Payments, one per Paystack transaction reference: recording a checkout, settling it, and
//! the jobs built on payments in the files beside this one: turning a paid one into its
//! period ([`fulfil`]), automatic renewal attempts ([`renewal_attempts`]), refunds owed
//! ([`refunds`]), the credit for the unused part of a plan being left ([`proration`]) and the
//! inbox of Paystack's webhook deliveries ([`webhook_inbox`]).

mod fulfilment;
pub mod proration;
pub mod refunds;
pub mod renewal_attempts;
pub mod webhook_inbox;

pub use fulfilment::{
    Fulfilled, GRACE_MS, SUPERSEDED_REASON, fulfil, grace_until, paid_period_end,
    renewed_period_end,
};

use crate::{AccountId, Db, Page, PaymentId, PlanId, Result, StoreError, SubscriptionId, found};

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
        /// nothing was activated and the money is owed back (see [`refunds`]).
        Superseded => "superseded",
    }
}

/// A row of `payments`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
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
    /// For an automatic renewal: the end of the period it renews.
    pub renewal_period_end: Option<i64>,
    /// For an automatic renewal: which attempt of that period it is (0 the renewal, 1 and 2
    /// the retries within grace; one of each at most, see [`renewal_attempts`]).
    pub renewal_attempt: i64,
    /// The unused part of the plan being left, already taken off `amount_minor` (a switch of
    /// plans mid-period, see [`proration`]; 0 otherwise).
    pub credit_minor: i64,
    /// For a superseded payment: when its refund was asked of Paystack.
    pub refund_requested_at: Option<i64>,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// Epoch milliseconds.
    pub updated_at: i64,
}

const COLUMNS: &str = "id, account_id, plan_id, reference, amount_minor, currency, status, \
                       paystack_transaction_id, channel, paid_at, failure_reason, \
                       subscription_id, renewal_of, renewal_period_end, renewal_attempt, \
                       credit_minor, refund_requested_at, created_at, updated_at";

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
fn validated<'a>(new: &NewPayment<'a>) -> Result<(&'a str, String)> {
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
    create_pending_credited(db, new, 0, now_ms).await
}

/// [`create_pending`] for a switch of plans whose `amount_minor` already has `credit_minor`
/// (the unused part of the plan being left, see [`proration`]) taken off; the credit is kept
/// on the payment for the invoice and the Billing page.
pub async fn create_pending_credited(
    db: &Db,
    new: &NewPayment<'_>,
    credit_minor: i64,
    now_ms: i64,
) -> Result<Payment> {
    let (reference, currency) = validated(new)?;
    if credit_minor < 0 {
        return Err(StoreError::Invalid(
            "a credit cannot be negative".to_owned(),
        ));
    }
    let sql = format!(
        "INSERT INTO payments \
             (account_id, plan_id, reference, amount_minor, currency, status, credit_minor, \
              created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $7) RETURNING {COLUMNS}"
    );
    sqlx::query_as::<_, Payment>(&sql)
        .bind(new.account_id)
        .bind(new.plan_id)
        .bind(reference)
        .bind(new.amount_minor)
        .bind(currency)
        .bind(credit_minor)
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
    found(done.rows_affected())
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
    found(done.rows_affected())
}
