//! `POST /webhooks/paystack`: the signature is checked on the raw body before anything else
//! (a forged or unsigned delivery gets 401 and changes nothing); the event is stored first,
//! keyed so that Paystack's retries are recognised; the answer is 200 at once; processing
//! follows, and a failed processing is retried from the stored event by [`retry_unprocessed`].

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use store::payments::{self, PaymentStatus};

use super::fulfil::{self, SettleError, Settled};
use super::signature;
use crate::state::AppState;

/// Give up on an event after this many failed attempts (it stays stored for an operator).
const MAX_ATTEMPTS: i64 = 20;

/// The webhook endpoint.
pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let claimed = headers
        .get("x-paystack-signature")
        .and_then(|v| v.to_str().ok());
    if !signature::verify(state.config.paystack_secret_key.expose(), &body, claimed) {
        metrics::counter!("atlantic_paystack_webhooks_total", "outcome" => "bad_signature")
            .increment(1);
        tracing::warn!("refused a webhook with a missing or wrong signature");
        return (StatusCode::UNAUTHORIZED, "bad signature\n").into_response();
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not JSON\n").into_response();
    };
    let name = event["event"].as_str().unwrap_or_default().to_owned();
    let key = event_key(&name, &event["data"]);
    let payload = String::from_utf8_lossy(&body);
    match payments::insert_if_new(&state.db, &key, &name, &payload, store::now_ms()).await {
        Ok(true) => {
            metrics::counter!("atlantic_paystack_webhooks_total", "outcome" => "accepted")
                .increment(1);
            tokio::spawn(async move { process(&state, &key, &name, &event["data"]).await });
            (StatusCode::OK, "ok\n").into_response()
        }
        Ok(false) => {
            metrics::counter!("atlantic_paystack_webhooks_total", "outcome" => "duplicate")
                .increment(1);
            (StatusCode::OK, "duplicate\n").into_response()
        }
        // Not stored: Paystack retries the delivery.
        Err(error) => {
            tracing::error!(%error, event = name, "storing a webhook failed");
            (StatusCode::SERVICE_UNAVAILABLE, "try again\n").into_response()
        }
    }
}

/// What makes a delivery unique: the event and the object it is about.
pub fn event_key(name: &str, data: &Value) -> String {
    let id = [
        &data["reference"],
        &data["subscription_code"],
        &data["invoice_code"],
        &data["id"],
    ]
    .into_iter()
    .find_map(|v| match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
    .unwrap_or_default();
    format!("{name}:{id}")
}

/// Handles one stored event and records the result on it.
async fn process(state: &AppState, key: &str, name: &str, data: &Value) {
    let result = handle(state, name, data).await;
    let recorded = match &result {
        Ok(()) => payments::mark_processed(&state.db, key, store::now_ms()).await,
        Err(reason) => {
            tracing::warn!(key, %reason, "processing a webhook failed; it will be retried");
            payments::mark_failed(&state.db, key, reason).await
        }
    };
    if let Err(error) = recorded {
        tracing::error!(key, %error, "recording a webhook's processing failed");
    }
}

async fn handle(state: &AppState, name: &str, data: &Value) -> Result<(), String> {
    match name {
        "charge.success" => {
            let reference = data["reference"].as_str().ok_or("no reference")?;
            // Paystack's own record decides, not the webhook body.
            match fulfil::settle_reference(&state.db, &state.paystack, reference).await {
                Ok(Settled::Paid) => {
                    state.gateway.handle.refresh_now();
                    Ok(())
                }
                Ok(Settled::StillPending) => Err("Paystack still processes it".to_owned()),
                Ok(_) => Ok(()),
                // A charge we did not start (e.g. from another integration): nothing to do.
                Err(SettleError::UnknownReference) => Ok(()),
                Err(error) => Err(error.to_string()),
            }
        }
        "refund.processed" => {
            let reference = data["transaction_reference"]
                .as_str()
                .or_else(|| data["transaction"]["reference"].as_str())
                .ok_or("no transaction reference")?;
            match payments::by_reference(&state.db, reference).await {
                Ok(Some(payment)) if payment.status == PaymentStatus::Success => {
                    payments::mark_refunded(&state.db, payment.id, store::now_ms())
                        .await
                        .map_err(|e| e.to_string())
                }
                Ok(_) => Ok(()),
                Err(error) => Err(error.to_string()),
            }
        }
        // Renewals are checkouts of our own, not Paystack subscriptions, so these are only
        // kept (stored above) for the record.
        _ => Ok(()),
    }
}

/// Retries stored events whose processing failed (called periodically).
pub async fn retry_unprocessed(state: &AppState) {
    let events = match payments::unprocessed(&state.db, MAX_ATTEMPTS, 50).await {
        Ok(events) => events,
        Err(error) => {
            tracing::warn!(%error, "listing unprocessed webhooks failed");
            return;
        }
    };
    for event in events {
        let data = serde_json::from_str::<Value>(&event.payload)
            .map(|v| v["data"].clone())
            .unwrap_or_default();
        process(state, &event.event_key, &event.event, &data).await;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn deliveries_are_keyed_by_event_and_object() {
        assert_eq!(
            event_key(
                "charge.success",
                &json!({ "id": 5, "reference": "atl_1_x" })
            ),
            "charge.success:atl_1_x"
        );
        assert_eq!(
            event_key(
                "subscription.disable",
                &json!({ "subscription_code": "SUB_1" })
            ),
            "subscription.disable:SUB_1"
        );
        assert_eq!(
            event_key("refund.processed", &json!({ "id": 42 })),
            "refund.processed:42"
        );
    }
}
