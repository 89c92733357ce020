//! Acting on Paystack's subscription and invoice webhooks (stored and acknowledged first by
//! [`super::webhook`]). Renewals are our own charges of the saved card, but a Paystack
//! subscription made for a customer (e.g. from Paystack's dashboard) is tied to theirs here:
//! `subscription.create` records its code and email token on the customer's live
//! subscription; `subscription.disable` and `subscription.not_renew` turn automatic renewal
//! off; `invoice.payment_failed` is told to the customer, whose period then ends into grace as
//! any unpaid one does. An event about nobody we know changes nothing. An `Err` is retried
//! from the stored event.

use serde_json::Value;
use store::subscriptions::{self, PaystackDetails};
use store::{AccountId, StoreError, accounts, plans};

use crate::activity;
use crate::state::AppState;

/// The account an event is about: by the Paystack subscription code we recorded, else by the
/// customer's email.
async fn account_of(state: &AppState, data: &Value) -> Result<Option<AccountId>, String> {
    let code = data["subscription_code"]
        .as_str()
        .or_else(|| data["subscription"]["subscription_code"].as_str());
    if let Some(code) = code
        && let Some(subscription) = subscriptions::by_paystack_code(&state.db, code)
            .await
            .map_err(|e| e.to_string())?
    {
        return Ok(Some(subscription.account_id));
    }
    let Some(email) = data["customer"]["email"].as_str() else {
        return Ok(None);
    };
    Ok(accounts::by_email(&state.db, email)
        .await
        .map_err(|e| e.to_string())?
        .map(|account| account.id))
}

/// `subscription.create`: the code and email token go on the customer's live subscription,
/// if its plan is the one subscribed to (when both sides name a Paystack plan).
pub async fn subscription_created(state: &AppState, data: &Value) -> Result<(), String> {
    let Some(code) = data["subscription_code"].as_str() else {
        return Err("no subscription_code".to_owned());
    };
    let Some(email) = data["customer"]["email"].as_str() else {
        return Err("no customer email".to_owned());
    };
    let db = &state.db;
    let Some(account) = accounts::by_email(db, email)
        .await
        .map_err(|e| e.to_string())?
    else {
        tracing::info!(code, "a Paystack subscription for a customer unknown here");
        return Ok(());
    };
    let now = store::now_ms();
    let Some(current) = subscriptions::current(db, account.id, now)
        .await
        .map_err(|e| e.to_string())?
    else {
        tracing::info!(
            code,
            "a Paystack subscription for a customer without a live plan"
        );
        return Ok(());
    };
    let our_plan_code = plans::by_id(db, current.plan_id)
        .await
        .map_err(|e| e.to_string())?
        .and_then(|plan| plan.paystack_plan_code);
    if let (Some(ours), Some(theirs)) = (our_plan_code, data["plan"]["plan_code"].as_str())
        && ours != theirs
    {
        tracing::info!(
            code,
            theirs,
            ours,
            "a Paystack subscription to another plan"
        );
        return Ok(());
    }
    let details = PaystackDetails {
        subscription_code: Some(code),
        email_token: data["email_token"].as_str(),
        authorization_code: None,
    };
    match subscriptions::set_paystack_details(db, current.id, &details, now).await {
        Ok(()) => {
            tracing::info!(
                code,
                subscription = current.id.get(),
                "linked a Paystack subscription"
            );
            Ok(())
        }
        // Recorded on another subscription before: a replay or a stale event.
        Err(StoreError::Conflict(reason)) => {
            tracing::warn!(code, %reason, "a Paystack subscription code is taken");
            Ok(())
        }
        Err(error) => Err(error.to_string()),
    }
}

/// `subscription.disable` and `subscription.not_renew`: automatic renewal off.
pub async fn subscription_stopped(
    state: &AppState,
    name: &str,
    data: &Value,
) -> Result<(), String> {
    let Some(account) = account_of(state, data).await? else {
        return Ok(());
    };
    let changed = subscriptions::set_auto_renew(&state.db, account, false, store::now_ms())
        .await
        .map_err(|e| e.to_string())?;
    if let Some(subscription) = changed {
        let detail = serde_json::json!({
            "source": "paystack",
            "event": name,
            "plan_id": subscription.plan_id.get(),
            "subscription_code": data["subscription_code"],
        });
        let kind = "subscription.auto_renew_off";
        activity::record(&state.db, Some(account), kind, None, detail).await;
    }
    Ok(())
}

/// `invoice.payment_failed`: the customer is told; grace follows at the period's end.
pub async fn invoice_failed(state: &AppState, data: &Value) -> Result<(), String> {
    let Some(account) = account_of(state, data).await? else {
        return Ok(());
    };
    let detail = serde_json::json!({
        "invoice_code": data["invoice_code"],
        "subscription_code": data["subscription"]["subscription_code"],
        "amount_minor": data["amount"],
        "description": data["description"],
    });
    let kind = "subscription.payment_failed";
    activity::record(&state.db, Some(account), kind, None, detail).await;
    Ok(())
}

/// Tells the customer a payment's refund went through (`refund.processed`).
pub async fn refunded(state: &AppState, payment: &store::payments::Payment) {
    let detail = super::settle::payment_detail(payment, "status", "refunded".into());
    tracing::info!(reference = payment.reference, "refund processed");
    let account = Some(payment.account_id);
    activity::record(&state.db, account, "payment.refunded", None, detail).await;
}
