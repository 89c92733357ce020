//! Billing with Paystack, the domain side (no web handlers: those are in `http/billing.rs`):
//! the API client ([`paystack`]), starting a checkout ([`checkout`]), verifying a reference
//! with Paystack and settling it exactly once ([`settle`]), automatic renewal by charging the
//! saved card during housekeeping ([`card_renewal`]), webhook deliveries ([`webhook`]), the
//! subscription and invoice events ([`events`]), the webhook signature ([`signature`]) and the
//! built-in test double ([`double`]).

pub mod card_renewal;
pub mod checkout;
pub mod double;
pub mod events;
pub mod paystack;
pub mod settle;
pub mod signature;
pub mod webhook;

use crate::state::AppState;

/// Moves ended periods into grace and ended graces to expired (see
/// [`store::subscriptions::expire_due`]), logs each change as activity, and has the gateway
/// reload when something changed. Called periodically; the gateway already stops serving at
/// the deadlines themselves, this keeps the records and the customer's log in step.
pub async fn expire_due(state: &AppState) {
    let now = store::now_ms();
    let changed = match store::subscriptions::expire_due(&state.db, now).await {
        Ok(changed) => changed,
        Err(error) => {
            tracing::warn!(%error, "expiring subscriptions failed");
            return;
        }
    };
    for subscription in &changed {
        let kind = format!("subscription.{}", subscription.status.as_str());
        let detail = serde_json::json!({ "plan_id": subscription.plan_id.get() });
        let account = Some(subscription.account_id);
        crate::activity::record(&state.db, account, &kind, None, detail).await;
    }
    if !changed.is_empty() {
        tracing::info!(
            count = changed.len(),
            "subscriptions moved to grace or expired"
        );
        state.gateways.refresh_now();
    }
}
