//! Paystack's webhook deliveries ([`deliver`]; `POST /webhooks/paystack` in `http/billing.rs`
//! answers with its verdict). With `ATLANTIC_PAYSTACK_WEBHOOK_IPS` set, a delivery from any
//! other source address is refused (403) first; then the signature is checked on the raw body
//! before anything else (a forged or unsigned delivery gets 401 and changes nothing); the
//! event is stored first, keyed so that Paystack's retries are recognised; the answer is 200 at
//! once; processing follows ([`handle`], with the subscription and invoice events in
//! [`super::events`]), and a failed processing is retried from the stored event by
//! [`retry_unprocessed`]. Events we do not act on stay stored and are acknowledged.

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::Value;
use store::payments::{self, PaymentStatus, webhook_inbox};

use super::events;
use super::settle::{self, SettleError, Settled};
use super::signature;
use crate::state::AppState;

/// Give up on an event after this many failed attempts (it stays stored for an operator).
const MAX_ATTEMPTS: i64 = 20;

/// Whether `ip` may deliver webhooks: anywhere when the allowlist is empty.
pub fn source_allowed(ip: IpAddr, allowlist: &[IpNet]) -> bool {
    allowlist.is_empty() || allowlist.iter().any(|net| net.contains(&ip))
}

/// What became of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Stored; processing follows.
    Accepted,
    /// Stored before: a retry of a delivery we have.
    Duplicate,
    /// From a source outside `ATLANTIC_PAYSTACK_WEBHOOK_IPS`: ignored.
    BadSource,
    /// The signature is missing or wrong: ignored.
    BadSignature,
    /// The body is not JSON: ignored.
    NotJson,
    /// The database failed: not stored, so Paystack should deliver it again.
    NotStored,
}

/// Takes one delivery from `source` with the `x-paystack-signature` header `signature`:
/// checks the source and the signature on the raw body, stores the event, and has it
/// processed in the background.
pub async fn deliver(
    state: &AppState,
    source: IpAddr,
    signature: Option<&str>,
    body: &[u8],
) -> Delivery {
    if !source_allowed(source, &state.config.paystack_webhook_ips) {
        count("bad_source");
        tracing::warn!(%source, "refused a webhook from outside ATLANTIC_PAYSTACK_WEBHOOK_IPS");
        return Delivery::BadSource;
    }
    if !signature::verify(state.config.paystack_secret_key.expose(), body, signature) {
        count("bad_signature");
        tracing::warn!("refused a webhook with a missing or wrong signature");
        return Delivery::BadSignature;
    }
    let Ok(event) = serde_json::from_slice::<Value>(body) else {
        return Delivery::NotJson;
    };
    let name = event["event"].as_str().unwrap_or_default().to_owned();
    let key = event_key(&name, &event["data"]);
    let payload = String::from_utf8_lossy(body);
    match webhook_inbox::insert_if_new(&state.db, &key, &name, &payload, store::now_ms()).await {
        Ok(true) => {
            count("accepted");
            let state = state.clone();
            tokio::spawn(async move { process(&state, &key, &name, &event["data"]).await });
            Delivery::Accepted
        }
        Ok(false) => {
            count("duplicate");
            Delivery::Duplicate
        }
        Err(error) => {
            tracing::error!(%error, event = name, "storing a webhook failed");
            Delivery::NotStored
        }
    }
}

fn count(outcome: &'static str) {
    metrics::counter!("atlantic_paystack_webhooks_total", "outcome" => outcome).increment(1);
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
    // While Paystack's circuit is open a charge cannot be verified: the event waits, stored,
    // for a later run, without using up one of its attempts (a long outage must not make us
    // give up on a payment).
    if name == "charge.success" && state.paystack.is_unavailable() {
        tracing::debug!(key, "Paystack is unavailable: the charge is verified later");
        return;
    }
    let result = handle(state, name, data).await;
    let recorded = match &result {
        Ok(()) => webhook_inbox::mark_processed(&state.db, key, store::now_ms()).await,
        Err(reason) => {
            tracing::warn!(key, %reason, "processing a webhook failed; it will be retried");
            webhook_inbox::mark_failed(&state.db, key, reason).await
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
            match settle::settle_reference(&state.db, &state.paystack, reference).await {
                Ok(Settled::Paid) => {
                    state.gateways.refresh_now();
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
                Ok(Some(payment))
                    if matches!(
                        payment.status,
                        PaymentStatus::Success | PaymentStatus::Superseded
                    ) =>
                {
                    payments::mark_refunded(&state.db, payment.id, store::now_ms())
                        .await
                        .map_err(|e| e.to_string())?;
                    events::refunded(state, &payment).await;
                    Ok(())
                }
                Ok(_) => Ok(()),
                Err(error) => Err(error.to_string()),
            }
        }
        "subscription.create" => events::subscription_created(state, data).await,
        "subscription.disable" | "subscription.not_renew" => {
            events::subscription_stopped(state, name, data).await
        }
        "invoice.payment_failed" => events::invoice_failed(state, data).await,
        // Anything else (invoice.create, invoice.update, disputes, …) is kept, stored above,
        // for the record.
        _ => Ok(()),
    }
}

/// Retries stored events whose processing failed (called periodically).
pub async fn retry_unprocessed(state: &AppState) {
    let events = match webhook_inbox::unprocessed(&state.db, MAX_ATTEMPTS, 50).await {
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
        assert_eq!(
            event_key(
                "invoice.payment_failed",
                &json!({ "invoice_code": "INV_1", "subscription": { "subscription_code": "SUB_1" } })
            ),
            "invoice.payment_failed:INV_1"
        );
    }

    #[test]
    fn only_listed_sources_may_deliver_when_a_list_is_set() {
        let paystack: Vec<IpNet> = crate::config::PAYSTACK_WEBHOOK_IPS
            .split(',')
            .map(|ip| IpNet::from(ip.parse::<IpAddr>().expect("ip")))
            .collect();
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert!(source_allowed(ip("203.0.113.9"), &[]), "no list: anyone");
        for allowed in ["52.31.139.75", "52.49.173.169", "52.214.14.220"] {
            assert!(source_allowed(ip(allowed), &paystack), "{allowed}");
        }
        for refused in ["52.31.139.76", "127.0.0.1", "::1", "10.0.0.1"] {
            assert!(!source_allowed(ip(refused), &paystack), "{refused}");
        }
        let net: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("net")];
        assert!(source_allowed(ip("10.200.1.2"), &net));
        assert!(!source_allowed(ip("11.0.0.1"), &net));
    }
}
