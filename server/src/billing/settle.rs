//! Turning a payment reference into a result, the same way whether the customer's browser came
//! back (callback) or Paystack told us (webhook), in any order and concurrently: ask Paystack
//! (`verify`), check the transaction against what we recorded at checkout, and settle. Only a
//! `success` whose reference, amount, currency, account and plan all match activates, and
//! [`store::payments::fulfil`] makes that activation happen once. Automatic renewals settle
//! here too (their charge's answer, the verify and the webhook race like a checkout's), and
//! whichever call settles one records the customer's `subscription.renewed` or
//! `subscription.renewal_failed` activity event. A renewal that raced the customer's switch to
//! another plan is `superseded` by [`store::payments::fulfil`] and refunded here
//! ([`refund_superseded`]; housekeeping asks again while Paystack does not take it).

use store::payments::{self, Fulfilled, Payment, PaymentOutcome, PaymentStatus};
use store::{Db, StoreError};

use super::paystack::{Paystack, PaystackError, RefundRequest, Transaction};
use crate::activity;

/// Days one paid period lasts.
pub const PERIOD_DAYS: i64 = 30;

/// What became of a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// This call activated the plan.
    Paid,
    /// Settled before (by the other path, or a replay): nothing changed now.
    Earlier(PaymentStatus),
    /// Paystack says the charge failed or was abandoned or reversed.
    Declined,
    /// Paystack's transaction does not match our record: recorded, never activated.
    Mismatch(String),
    /// Paystack is still processing; try again later.
    StillPending,
    /// An automatic renewal paid after the customer had switched plans: nothing activated,
    /// refunded.
    Superseded,
}

/// Why settling could not finish (nothing was changed).
#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    /// No payment with this reference was started here.
    #[error("unknown payment reference")]
    UnknownReference,
    /// Paystack could not be asked.
    #[error(transparent)]
    Paystack(#[from] PaystackError),
    /// The database failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for SettleError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => SettleError::UnknownReference,
            other => SettleError::Store(other),
        }
    }
}

/// Settles `reference` from Paystack's own record of it.
pub async fn settle_reference(
    db: &Db,
    paystack: &Paystack,
    reference: &str,
) -> Result<Settled, SettleError> {
    let payment = payments::by_reference(db, reference)
        .await?
        .ok_or(SettleError::UnknownReference)?;
    // Paystack lets a customer finish a checkout after a declined card or after leaving the
    // page: those are asked about again, and a late success still activates.
    if !matches!(
        payment.status,
        PaymentStatus::Pending | PaymentStatus::Failed | PaymentStatus::Abandoned
    ) {
        return Ok(Settled::Earlier(payment.status));
    }
    let transaction = paystack.verify(reference).await?;
    let now = store::now_ms();
    let outcome = |status, reason: Option<&'static str>| PaymentOutcome {
        status,
        paystack_transaction_id: Some(transaction.id),
        channel: transaction.channel.as_deref(),
        paid_at: None,
        failure_reason: reason,
        authorization_code: None,
    };
    match transaction.status.as_str() {
        "success" => {}
        "failed" | "abandoned" | "reversed" => {
            let status = if transaction.status == "abandoned" {
                PaymentStatus::Abandoned
            } else {
                PaymentStatus::Failed
            };
            let settled =
                payments::settle(db, reference, &outcome(status, Some("declined")), now).await?;
            return Ok(match settled {
                Some(payment) => {
                    if payment.renewal_of.is_some() {
                        tracing::warn!(reference, status = %transaction.status, "a renewal charge was declined");
                        renewal_failed(db, &payment, "declined").await;
                    }
                    Settled::Declined
                }
                None => already(db, reference).await?,
            });
        }
        _ => return Ok(Settled::StillPending),
    }
    if let Err(reason) = matches_record(&payment, &transaction) {
        let mismatch = PaymentOutcome {
            failure_reason: Some(&reason),
            ..outcome(PaymentStatus::Mismatch, None)
        };
        tracing::error!(reference, %reason, "a paid transaction does not match its checkout");
        metrics::counter!("atlantic_payments_total", "outcome" => "mismatch").increment(1);
        return Ok(
            match payments::settle(db, reference, &mismatch, now).await? {
                Some(payment) => {
                    let detail = serde_json::json!({
                        "reference": payment.reference,
                        "status": "mismatch: not activated",
                    });
                    record(db, &payment, "payment.mismatch", detail).await;
                    Settled::Mismatch(reason)
                }
                None => already(db, reference).await?,
            },
        );
    }
    let paid = PaymentOutcome {
        paid_at: Some(now),
        authorization_code: transaction.reusable_authorization(),
        ..outcome(PaymentStatus::Success, None)
    };
    let (payment, subscription, superseded) =
        match payments::fulfil(db, reference, &paid, PERIOD_DAYS, now).await? {
            Some(Fulfilled::Activated {
                payment,
                subscription,
                superseded,
            }) => (payment, subscription, superseded),
            Some(Fulfilled::Superseded(payment)) => {
                tracing::warn!(
                    reference,
                    "a renewal was paid after a switch of plans: refunding"
                );
                refund_superseded(db, paystack, &payment).await;
                return Ok(Settled::Superseded);
            }
            None => return already(db, reference).await,
        };
    metrics::counter!("atlantic_payments_total", "outcome" => "paid").increment(1);
    if payment.renewal_of.is_some() {
        tracing::info!(
            reference,
            period_end = subscription.period_end,
            "renewed automatically"
        );
        let detail = payment_detail(&payment, "period_end", subscription.period_end.into());
        record(db, &payment, "subscription.renewed", detail).await;
    } else {
        let detail = payment_detail(&payment, "status", "paid".into());
        record(db, &payment, "payment.succeeded", detail).await;
    }
    if let Some(renewal) = superseded {
        tracing::warn!(
            reference = renewal.reference,
            "a renewal was paid while the customer switched plans: refunding"
        );
        refund_superseded(db, paystack, &renewal).await;
    }
    Ok(Settled::Paid)
}

/// Tells the customer a superseded renewal is refunded and asks Paystack for the refund.
/// When Paystack does not take the request now, [`retry_refunds`] asks again.
pub async fn refund_superseded(db: &Db, paystack: &Paystack, payment: &Payment) {
    metrics::counter!("atlantic_payments_total", "outcome" => "superseded").increment(1);
    let detail = payment_detail(payment, "status", "refund requested".into());
    record(db, payment, "payment.superseded", detail).await;
    request_refund(db, paystack, payment).await;
}

/// Asks Paystack for refunds still owed (called periodically).
pub async fn retry_refunds(db: &Db, paystack: &Paystack) {
    if paystack.is_unavailable() {
        return;
    }
    match store::payments::refunds::owed(db, 50).await {
        Ok(owed) => {
            for payment in &owed {
                request_refund(db, paystack, payment).await;
            }
        }
        Err(error) => tracing::warn!(%error, "listing refunds owed failed"),
    }
}

async fn request_refund(db: &Db, paystack: &Paystack, payment: &Payment) {
    let request = RefundRequest {
        transaction: payment.reference.clone(),
        customer_note: payments::SUPERSEDED_REASON.to_owned(),
        merchant_note: format!(
            "automatic renewal {} superseded by a switch of plans",
            payment.reference
        ),
    };
    match paystack.refund(&request).await {
        Ok(refund) => {
            tracing::info!(
                reference = payment.reference,
                refund = refund.id,
                status = refund.status,
                "refund requested"
            );
        }
        // Paystack answered, and no: asking again would be answered the same (e.g. refunded
        // already from Paystack's dashboard). Recorded so housekeeping stops asking; an
        // operator settles it by hand.
        Err(error) if error.is_refusal() => {
            tracing::error!(reference = payment.reference, %error, "Paystack refused a refund we owe: settle it by hand");
            metrics::counter!("atlantic_payments_total", "outcome" => "refund_refused")
                .increment(1);
        }
        Err(error) => {
            tracing::warn!(reference = payment.reference, %error, "requesting a refund failed; asking again later");
            return;
        }
    }
    if let Err(error) =
        store::payments::refunds::mark_requested(db, payment.id, store::now_ms()).await
    {
        tracing::error!(reference = payment.reference, %error, "recording a refund request failed");
    }
}

/// What the customer's activity keeps of a payment: plan, reference and amount, with one
/// more field (`key`) saying what happened.
pub fn payment_detail(payment: &Payment, key: &str, value: serde_json::Value) -> serde_json::Value {
    let mut detail = serde_json::json!({
        "plan_id": payment.plan_id.get(),
        "reference": payment.reference,
        "amount_minor": payment.amount_minor,
        "currency": payment.currency,
    });
    if payment.credit_minor > 0 {
        detail["credit_minor"] = payment.credit_minor.into();
    }
    if payment.renewal_attempt > 0 {
        detail["attempt"] = payment.renewal_attempt.into();
    }
    detail[key] = value;
    detail
}

/// Records that the renewal `payment` did not go through (`reason`) in the customer's
/// activity; the account then goes into grace at the period's end, as any unpaid period does,
/// and the card is tried again within grace (the attempt is in the detail).
pub async fn renewal_failed(db: &Db, payment: &Payment, reason: &str) {
    metrics::counter!("atlantic_payments_total", "outcome" => "renewal_failed").increment(1);
    let detail = serde_json::json!({
        "plan_id": payment.plan_id.get(),
        "reference": payment.reference,
        "reason": reason,
        "attempt": payment.renewal_attempt,
    });
    record(db, payment, "subscription.renewal_failed", detail).await;
}

async fn record(db: &Db, payment: &Payment, kind: &str, detail: serde_json::Value) {
    activity::record(db, Some(payment.account_id), kind, None, detail).await;
}

async fn already(db: &Db, reference: &str) -> Result<Settled, SettleError> {
    let payment = payments::by_reference(db, reference)
        .await?
        .ok_or(SettleError::UnknownReference)?;
    Ok(Settled::Earlier(payment.status))
}

/// Checks a successful transaction against the checkout we recorded.
pub fn matches_record(payment: &Payment, transaction: &Transaction) -> Result<(), String> {
    if transaction.reference != payment.reference {
        return Err(format!(
            "reference {} != {}",
            transaction.reference, payment.reference
        ));
    }
    if transaction.amount != payment.amount_minor {
        return Err(format!(
            "amount {} != {}",
            transaction.amount, payment.amount_minor
        ));
    }
    if !transaction.currency.eq_ignore_ascii_case(&payment.currency) {
        return Err(format!(
            "currency {} != {}",
            transaction.currency, payment.currency
        ));
    }
    let metadata = match &transaction.metadata {
        // Paystack sometimes returns metadata as a JSON string.
        serde_json::Value::String(text) => serde_json::from_str(text).unwrap_or_default(),
        other => other.clone(),
    };
    let id_of = |key: &str| match metadata.get(key) {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    if id_of("plan_id") != Some(payment.plan_id.get()) {
        return Err(format!(
            "plan {:?} != {}",
            id_of("plan_id"),
            payment.plan_id.get()
        ));
    }
    if id_of("account_id") != Some(payment.account_id.get()) {
        return Err(format!(
            "account {:?} != {}",
            id_of("account_id"),
            payment.account_id.get()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use store::{AccountId, PaymentId, PlanId};

    use super::*;

    fn payment() -> Payment {
        Payment {
            id: PaymentId(1),
            account_id: AccountId(7),
            plan_id: PlanId(2),
            reference: "atl_7_abc".to_owned(),
            amount_minor: 2_000_000,
            currency: "NGN".to_owned(),
            status: PaymentStatus::Pending,
            paystack_transaction_id: None,
            channel: None,
            paid_at: None,
            failure_reason: None,
            subscription_id: None,
            renewal_of: None,
            renewal_period_end: None,
            renewal_attempt: 0,
            credit_minor: 0,
            refund_requested_at: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn transaction() -> Transaction {
        Transaction {
            id: 99,
            status: "success".to_owned(),
            reference: "atl_7_abc".to_owned(),
            amount: 2_000_000,
            currency: "NGN".to_owned(),
            paid_at: None,
            channel: Some("card".to_owned()),
            metadata: serde_json::json!({ "account_id": 7, "plan_id": 2 }),
            authorization: None,
        }
    }

    #[test]
    fn only_an_exact_match_passes() {
        assert_eq!(matches_record(&payment(), &transaction()), Ok(()));
        let as_string = Transaction {
            metadata: serde_json::json!("{\"account_id\":\"7\",\"plan_id\":\"2\"}"),
            ..transaction()
        };
        assert_eq!(
            matches_record(&payment(), &as_string),
            Ok(()),
            "metadata as text"
        );
        for amount in [0, 1, 1_999_999, 2_000_001, 200_000_000, -2_000_000] {
            let t = Transaction {
                amount,
                ..transaction()
            };
            assert!(matches_record(&payment(), &t).is_err(), "amount {amount}");
        }
        let cases = [
            Transaction {
                currency: "GHS".to_owned(),
                ..transaction()
            },
            Transaction {
                reference: "atl_7_abd".to_owned(),
                ..transaction()
            },
            Transaction {
                metadata: serde_json::json!({ "account_id": 7, "plan_id": 3 }),
                ..transaction()
            },
            Transaction {
                metadata: serde_json::json!({ "account_id": 8, "plan_id": 2 }),
                ..transaction()
            },
            Transaction {
                metadata: serde_json::Value::Null,
                ..transaction()
            },
        ];
        for t in cases {
            assert!(matches_record(&payment(), &t).is_err(), "{t:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn only_the_exact_amount_passes(recorded in 0..i64::MAX, charged in proptest::num::i64::ANY) {
            let payment = Payment { amount_minor: recorded, ..payment() };
            let paid = Transaction { amount: charged, ..transaction() };
            proptest::prop_assert_eq!(matches_record(&payment, &paid).is_ok(), charged == recorded);
            let exact = Transaction { amount: recorded, ..transaction() };
            proptest::prop_assert!(matches_record(&payment, &exact).is_ok());
        }
    }

    #[test]
    fn only_a_reusable_card_is_saved() {
        let with = |code: Option<&str>, reusable: Option<bool>| Transaction {
            authorization: Some(crate::billing::paystack::Authorization {
                authorization_code: code.map(str::to_owned),
                reusable,
            }),
            ..transaction()
        };
        assert_eq!(
            with(Some("AUTH_1"), Some(true)).reusable_authorization(),
            Some("AUTH_1")
        );
        assert_eq!(
            with(Some("AUTH_1"), Some(false)).reusable_authorization(),
            None
        );
        assert_eq!(with(Some("AUTH_1"), None).reusable_authorization(), None);
        assert_eq!(with(Some(""), Some(true)).reusable_authorization(), None);
        assert_eq!(with(None, Some(true)).reusable_authorization(), None);
        assert_eq!(transaction().reusable_authorization(), None);
    }
}
