//! Buying a plan: [`start`] records a pending payment with a reference of our own and asks
//! Paystack for a checkout page to send the customer to. Paystack sends them back to
//! `/billing/callback`, which settles the reference (see [`super::settle`]). The web side of
//! both is `http/billing.rs`. Switching plans mid-period costs the new plan's price less the
//! unused part of the current one ([`store::payments::proration`]): that reduced amount is
//! what is recorded and what Paystack is asked for, the credit kept on the payment.

use rand::Rng as _;
use store::payments::renewal_attempts;
use store::payments::{self, NewPayment, PaymentOutcome, PaymentStatus, proration};
use store::plans::Plan;
use store::{AccountId, PlanId, StoreError, accounts, plans};

use super::paystack::{InitializeRequest, PaystackError};
use crate::state::AppState;

/// The path Paystack sends the customer back to.
pub const CALLBACK_PATH: &str = "/billing/callback";

/// Why a checkout did not start (nothing was charged).
#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    /// The plan does not exist, is not for sale, or is free.
    #[error("the plan is not for sale")]
    PlanNotForSale,
    /// The account is gone.
    #[error("no such account")]
    NoAccount,
    /// A renewal of the account's plan is being charged: the switch waits.
    #[error("a renewal is in flight")]
    Renewing,
    /// Paystack refused or could not be reached (recorded as a failed payment).
    #[error(transparent)]
    Paystack(PaystackError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A fresh reference: `atl_<account>_<96 random bits>`.
pub(super) fn new_reference(account: i64) -> String {
    let bits: u128 = rand::rng().random::<u128>() >> 32;
    format!("atl_{account}_{bits:024x}")
}

/// The pending payment for one period of `plan` under `reference`.
pub(super) fn pending_payment<'a>(
    account: AccountId,
    plan: &'a Plan,
    reference: &'a str,
) -> NewPayment<'a> {
    NewPayment {
        account_id: account,
        plan_id: plan.id,
        reference,
        amount_minor: plan.price_minor,
        currency: &plan.currency,
    }
}

/// Starts buying `plan` for `account`: returns Paystack's checkout page to send the customer
/// to. `cancel_url` is where Paystack's page sends a customer who gives up.
pub async fn start(
    state: &AppState,
    account: AccountId,
    plan: PlanId,
    cancel_url: &str,
) -> Result<String, CheckoutError> {
    let db = &state.db;
    let plan = match plans::by_id(db, plan).await? {
        Some(plan) if plan.for_sale && plan.price_minor > 0 => plan,
        _ => return Err(CheckoutError::PlanNotForSale),
    };
    let account = accounts::by_id(db, account)
        .await?
        .ok_or(CheckoutError::NoAccount)?;
    // A renewal being charged and a switch of plans would race for the same period: the
    // switch waits (store::payments::fulfil refunds whichever renewal still slips through).
    if renewal_attempts::in_flight(db, account.id).await? {
        return Err(CheckoutError::Renewing);
    }
    let now = store::now_ms();
    let prorated = proration::for_switch(db, account.id, &plan, now).await?;
    let reference = new_reference(account.id.get());
    let pending = NewPayment {
        amount_minor: prorated.amount_minor,
        ..pending_payment(account.id, &plan, &reference)
    };
    payments::create_pending_credited(db, &pending, prorated.credit_minor, now).await?;
    let mut callback = state.site_url.clone();
    callback.set_path(CALLBACK_PATH);
    let request = InitializeRequest {
        email: account.email.clone(),
        amount: prorated.amount_minor,
        currency: plan.currency.clone(),
        reference: reference.clone(),
        callback_url: callback.to_string(),
        metadata: serde_json::json!({
            "account_id": account.id.get(),
            "plan_id": plan.id.get(),
            "credit_minor": prorated.credit_minor,
            "cancel_action": cancel_url,
        }),
    };
    match state.paystack.initialize(&request).await {
        Ok(started) => {
            tracing::info!(
                reference,
                plan = plan.name,
                amount = prorated.amount_minor,
                credit = prorated.credit_minor,
                "checkout started"
            );
            Ok(started.authorization_url)
        }
        Err(error) => {
            tracing::error!(reference, %error, "starting a checkout failed");
            let reason = error.to_string();
            let outcome = PaymentOutcome {
                status: PaymentStatus::Failed,
                paystack_transaction_id: None,
                channel: None,
                paid_at: None,
                failure_reason: Some(&reason),
                authorization_code: None,
            };
            if let Err(error) = payments::settle(db, &reference, &outcome, store::now_ms()).await {
                tracing::error!(reference, %error, "recording the failed checkout failed");
            }
            Err(CheckoutError::Paystack(error))
        }
    }
}
