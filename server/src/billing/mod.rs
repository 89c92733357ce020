//! Billing with Paystack: the API client ([`paystack`]), checkout and callback
//! ([`checkout`]), settling a reference exactly once ([`fulfil`]), automatic renewal by
//! charging the saved card ([`renewal`]) and the customer's switch for it ([`auto_renew`]),
//! the webhook ([`webhook`]), the subscription and invoice events ([`events`]), the webhook
//! signature ([`signature`]) and the built-in test double ([`double`]).

pub mod auto_renew;
pub mod checkout;
pub mod double;
pub mod events;
pub mod fulfil;
pub mod paystack;
pub mod renewal;
pub mod signature;
pub mod webhook;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

/// `POST /billing/checkout`, `GET /billing/callback`, `POST /billing/auto-renew`. The
/// callback asks Paystack for the transaction, so it is throttled as a costly read; the posts
/// are throttled as writes by the router's limit.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/billing/checkout", post(checkout::start))
        .route("/billing/auto-renew", post(auto_renew::set))
        .route(
            "/billing/callback",
            get(checkout::callback).route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                crate::http::rate_limit::costly,
            )),
        )
}

/// `POST /webhooks/paystack`, for the public router (no session, no CSRF check: Paystack
/// signs it).
pub fn webhook_router() -> Router<AppState> {
    Router::new().route("/webhooks/paystack", post(webhook::receive))
}

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
        let event = store::activity::NewActivity {
            detail: serde_json::json!({ "plan_id": subscription.plan_id.get() }),
            ..store::activity::NewActivity::new(Some(subscription.account_id), &kind)
        };
        if let Err(error) = store::activity::record(&state.db, &event, now).await {
            tracing::warn!(%error, "recording a subscription change failed");
        }
    }
    if !changed.is_empty() {
        tracing::info!(
            count = changed.len(),
            "subscriptions moved to grace or expired"
        );
        state.gateway.handle.refresh_now();
    }
}
