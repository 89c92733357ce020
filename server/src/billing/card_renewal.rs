//! Automatic renewal by charging the card saved with the last payment. Each housekeeping run
//! finds the subscriptions whose period ends within [`RENEW_WITHIN_MS`] (automatic renewal on,
//! a saved card), records the one attempt per period as a pending payment with a reference of
//! our own — exactly like a checkout, and *before* anything leaves the process — then calls
//! `POST /transaction/charge_authorization` and settles the reference through the same
//! verify-and-fulfil path as checkouts ([`super::settle::settle_reference`]), so the charge's
//! answer, a later verify and the `charge.success` webhook credit the period once, in any
//! order. A declined or refused charge settles the payment `failed` and the account goes into
//! grace at the period's end, as any unpaid period does; the card is then tried again within
//! grace, a day and two days after the period's end ([`renewal_attempts::RETRY_AFTER_MS`]),
//! each retry recorded first in the same way (one per period and retry, see
//! [`renewal_attempts::retries_due`]) and told to the customer as
//! `subscription.renewal_retry`. A retry that goes through renews on the same terms, from
//! the old period's end. Attempts whose answer was lost are verified again by later runs.

use store::payments::renewal_attempts;
use store::payments::{PaymentOutcome, PaymentStatus};
use store::subscriptions::Subscription;
use store::{accounts, plans};

use super::checkout::{new_reference, pending_payment};
use super::paystack::{ChargeRequest, PaystackError};
use super::settle::{self, SettleError, Settled};
use crate::state::AppState;

/// How long before a period ends its renewal is attempted (one day).
pub const RENEW_WITHIN_MS: i64 = store::DAY_MS;
/// A checkout started this recently and still pending holds its account's renewal back (the
/// customer may be switching plans).
const CHECKOUT_WAIT_MS: i64 = 60 * 60_000;
/// Subscriptions renewed, or pending attempts checked again, per run at most.
const BATCH: i64 = 50;
/// A pending attempt older than this is verified again (its charge's answer may be lost).
const RECHECK_AFTER_MS: i64 = 2 * 60_000;

fn count(outcome: &'static str) {
    metrics::counter!("atlantic_renewals_total", "outcome" => outcome).increment(1);
}

/// Renews what is due and verifies attempts left pending. Called periodically.
pub async fn renew_due(state: &AppState) {
    recheck_pending(state).await;
    // While Paystack is failing nothing is attempted: an attempt is used up once recorded.
    if state.paystack.is_unavailable() {
        tracing::debug!("Paystack is unavailable: renewals wait for the next run");
        return;
    }
    let now = store::now_ms();
    let ends_by = now.saturating_add(RENEW_WITHIN_MS);
    let checkout_since = now.saturating_sub(CHECKOUT_WAIT_MS);
    let due = match renewal_attempts::due(&state.db, now, ends_by, checkout_since, BATCH).await {
        Ok(due) => due,
        Err(error) => {
            tracing::warn!(%error, "listing subscriptions due for renewal failed");
            return;
        }
    };
    for subscription in &due {
        renew(state, subscription, 0).await;
    }
    let retries = match renewal_attempts::retries_due(&state.db, now, checkout_since, BATCH).await {
        Ok(retries) => retries,
        Err(error) => {
            tracing::warn!(%error, "listing declined renewals due for a retry failed");
            return;
        }
    };
    for (subscription, attempt) in &retries {
        renew(state, subscription, *attempt).await;
    }
}

/// One subscription: record attempt `attempt` of its period (0 the renewal, 1 and 2 the
/// retries), charge the card, settle.
async fn renew(state: &AppState, subscription: &Subscription, attempt: i64) {
    let db = &state.db;
    let Some(authorization_code) = subscription.authorization_code.clone() else {
        return;
    };
    let plan = match plans::by_id(db, subscription.plan_id).await {
        // Renewed on the same terms checkout sells: a plan withdrawn from sale is not.
        Ok(Some(plan)) if plan.for_sale && plan.price_minor > 0 => plan,
        Ok(_) => {
            tracing::debug!(
                subscription = subscription.id.get(),
                "plan not for sale: not renewed"
            );
            return;
        }
        Err(error) => {
            tracing::warn!(%error, "loading a plan to renew failed");
            return;
        }
    };
    let account = match accounts::by_id(db, subscription.account_id).await {
        Ok(Some(account)) => account,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(%error, "loading an account to renew failed");
            return;
        }
    };
    let reference = new_reference(account.id.get());
    let pending = pending_payment(account.id, &plan, &reference);
    let now = store::now_ms();
    let payment = match renewal_attempts::record_retry(
        db,
        &pending,
        subscription.id,
        subscription.period_end,
        attempt,
        now,
    )
    .await
    {
        Ok(Some(payment)) => payment,
        // Another run (or this one before a restart) made this attempt.
        Ok(None) => return,
        Err(error) => {
            tracing::error!(reference, %error, "recording a renewal attempt failed");
            return;
        }
    };
    if attempt == 0 {
        count("attempted");
    } else {
        count("retried");
        tracing::info!(reference, attempt, "retrying a declined renewal");
        let detail = serde_json::json!({
            "plan_id": plan.id.get(),
            "reference": reference,
            "attempt": attempt,
            "period_end": subscription.period_end,
        });
        crate::activity::record(
            db,
            Some(account.id),
            "subscription.renewal_retry",
            None,
            detail,
        )
        .await;
    }
    let request = ChargeRequest {
        email: account.email.clone(),
        amount: plan.price_minor,
        authorization_code,
        reference: reference.clone(),
        currency: plan.currency.clone(),
        metadata: serde_json::json!({
            "account_id": account.id.get(),
            "plan_id": plan.id.get(),
            "renewal_of": subscription.id.get(),
            "renewal_attempt": attempt,
        })
        .to_string(),
    };
    match state.paystack.charge_authorization(&request).await {
        Ok(charge) => {
            tracing::info!(
                reference,
                status = charge.status,
                plan = plan.name,
                "renewal charge attempted"
            );
            settle(state, &reference).await;
        }
        // Nothing was charged: the attempt for this period ends here.
        Err(error) if error.is_refusal() || matches!(error, PaystackError::Unavailable) => {
            tracing::error!(reference, %error, "a renewal charge was refused");
            count("refused");
            let reason = error.to_string();
            refuse(state, &payment, &reason).await;
        }
        // Charged or not, nobody knows yet: verified again by a later run.
        Err(error) => {
            tracing::warn!(reference, %error, "a renewal charge got no answer; verifying later");
            count("unanswered");
        }
    }
}

/// Settles an attempt as `failed` with `reason` and tells the customer.
async fn refuse(state: &AppState, payment: &store::payments::Payment, reason: &str) {
    let now = store::now_ms();
    let outcome = PaymentOutcome {
        status: PaymentStatus::Failed,
        paystack_transaction_id: None,
        channel: None,
        paid_at: None,
        failure_reason: Some(reason),
        authorization_code: None,
    };
    match store::payments::settle(&state.db, &payment.reference, &outcome, now).await {
        Ok(Some(settled)) => settle::renewal_failed(&state.db, &settled, reason).await,
        Ok(None) => {}
        Err(error) => {
            tracing::error!(reference = payment.reference, %error, "recording a refused renewal failed");
        }
    }
}

/// Settles an attempt from Paystack's record of it, as checkouts are.
async fn settle(state: &AppState, reference: &str) {
    match settle::settle_reference(&state.db, &state.paystack, reference).await {
        Ok(Settled::Paid) => {
            count("paid");
            state.gateways.refresh_now();
        }
        Ok(Settled::Declined) => count("declined"),
        Ok(Settled::StillPending) => {
            tracing::info!(reference, "Paystack still processes a renewal charge");
        }
        Ok(Settled::Superseded) => count("superseded"),
        Ok(Settled::Mismatch(_) | Settled::Earlier(_)) => {}
        Err(error) => {
            tracing::warn!(reference, %error, "settling a renewal failed; verifying later");
        }
    }
}

/// Verifies attempts left pending (a lost answer, a restart between recording and charging,
/// Paystack still processing). One Paystack does not know was never charged: it fails.
async fn recheck_pending(state: &AppState) {
    let before = store::now_ms().saturating_sub(RECHECK_AFTER_MS);
    let pending = match renewal_attempts::pending(&state.db, before, BATCH).await {
        Ok(pending) => pending,
        Err(error) => {
            tracing::warn!(%error, "listing pending renewals failed");
            return;
        }
    };
    for payment in &pending {
        match settle::settle_reference(&state.db, &state.paystack, &payment.reference).await {
            // 404, "Transaction reference not found": the charge never reached Paystack.
            Err(SettleError::Paystack(PaystackError::NotFound(reason))) => {
                tracing::error!(reference = payment.reference, %reason, "Paystack has no record of a renewal charge");
                refuse(state, payment, "Paystack has no record of the charge").await;
            }
            Ok(Settled::Paid) => {
                count("paid");
                state.gateways.refresh_now();
            }
            Ok(Settled::Declined) => count("declined"),
            Ok(Settled::Superseded) => count("superseded"),
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(reference = payment.reference, %error, "verifying a pending renewal failed");
            }
        }
    }
}
