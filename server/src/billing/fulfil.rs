//! Turning a payment reference into a result, the same way whether the customer's browser came
//! back (callback) or Paystack told us (webhook), in any order and concurrently: ask Paystack
//! (`verify`), check the transaction against what we recorded at checkout, and settle. Only a
//! `success` whose reference, amount, currency, account and plan all match activates, and
//! [`store::payments::fulfil`] makes that activation happen once.

use store::payments::{self, Payment, PaymentOutcome, PaymentStatus};
use store::{Db, StoreError};

use super::paystack::{Paystack, PaystackError, Transaction};

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
    if payment.status != PaymentStatus::Pending {
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
                Some(_) => Settled::Declined,
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
                Some(_) => Settled::Mismatch(reason),
                None => already(db, reference).await?,
            },
        );
    }
    let paid = PaymentOutcome {
        paid_at: Some(now),
        ..outcome(PaymentStatus::Success, None)
    };
    match payments::fulfil(db, reference, &paid, PERIOD_DAYS, now).await? {
        Some(_) => {
            metrics::counter!("atlantic_payments_total", "outcome" => "paid").increment(1);
            Ok(Settled::Paid)
        }
        None => already(db, reference).await,
    }
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
}
