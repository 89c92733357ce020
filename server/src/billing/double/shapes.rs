//! The JSON the double answers with, field for field as Paystack's OpenAPI spec describes it
//! (`VerifyResponse`, `ChargeAuthorizationResponse`): every required field present, with the
//! documented type, so the client is tested against what Paystack really sends. The contract
//! test (`server/tests/paystack_contract.rs`) holds these shapes to the vendored spec.

use serde_json::{Value, json};

use super::{Double, Txn};

/// `data.customer`: Paystack's customer record for the transaction's email.
fn customer(double: &Double, txn: &Txn) -> Value {
    let code = double.authorization_code_for(&txn.email);
    json!({
        "id": 181_873_746,
        "first_name": null,
        "last_name": null,
        "email": txn.email,
        "customer_code": format!("CUS_{}", code.trim_start_matches("AUTH_")),
        "phone": null,
        "metadata": null,
        "risk_action": "default",
        "international_format_phone": null,
    })
}

/// `data.authorization`: the test card, or `{}` while no card was used (as Paystack does).
fn authorization(txn: &Txn) -> Value {
    let Some(code) = &txn.authorization_code else {
        return json!({});
    };
    json!({
        "authorization_code": code,
        "bin": "408408",
        "last4": "4081",
        "exp_month": "12",
        "exp_year": "2030",
        "channel": "card",
        "card_type": "visa ",
        "bank": "TEST BANK",
        "country_code": "NG",
        "brand": "visa",
        "reusable": true,
        "signature": format!("SIG_{}", code.trim_start_matches("AUTH_")),
        "account_name": null,
    })
}

fn gateway_response(txn: &Txn) -> &'static str {
    match txn.status {
        "success" => "Approved",
        "failed" => "Declined",
        _ => "Pending",
    }
}

/// Metadata as we received it; Paystack answers an absent one with an empty string.
fn metadata(txn: &Txn) -> Value {
    match &txn.metadata {
        Value::Null => json!(""),
        other => other.clone(),
    }
}

/// `data` of `GET /transaction/verify/{reference}`, also the body of `charge.success`.
pub(super) fn transaction(double: &Double, txn: &Txn) -> Value {
    json!({
        "id": txn.id,
        "domain": "test",
        "status": txn.status,
        "reference": txn.reference,
        "receipt_number": null,
        "amount": txn.amount,
        "message": null,
        "gateway_response": gateway_response(txn),
        "paid_at": txn.paid_at,
        "created_at": txn.created_at,
        "channel": "card",
        "currency": txn.currency,
        "ip_address": "127.0.0.1",
        "metadata": metadata(txn),
        "log": null,
        "fees": txn.amount * 15 / 1000,
        "fees_split": null,
        "authorization": authorization(txn),
        "customer": customer(double, txn),
        "plan": null,
        "split": {},
        "order_id": null,
        "paidAt": txn.paid_at,
        "createdAt": txn.created_at,
        "requested_amount": txn.amount,
        "pos_transaction_data": null,
        "source": null,
        "fees_breakdown": null,
        "connect": null,
        "transaction_date": txn.created_at,
        "plan_object": {},
        "subaccount": {},
    })
}

/// `data` of `POST /transaction/charge_authorization` (its spec types metadata as a string).
pub(super) fn charge(double: &Double, txn: &Txn) -> Value {
    let metadata = match metadata(txn) {
        Value::String(text) => text,
        other => other.to_string(),
    };
    json!({
        "amount": txn.amount,
        "currency": txn.currency,
        "transaction_date": txn.created_at,
        "status": txn.status,
        "reference": txn.reference,
        "domain": "test",
        "metadata": metadata,
        "gateway_response": gateway_response(txn),
        "message": null,
        "channel": "card",
        "ip_address": null,
        "log": null,
        "fees": txn.amount * 15 / 1000,
        "authorization": authorization(txn),
        "customer": customer(double, txn),
        "plan": null,
        "id": txn.id,
    })
}

/// `data` of `POST /refund` (`RefundCreateResponse`): the refund, queued.
pub(super) fn refund(
    double: &Double,
    txn: &Txn,
    id: i64,
    customer_note: &str,
    merchant_note: &str,
    now: &str,
) -> Value {
    let mut card = authorization(txn);
    for key in ["exp_month", "exp_year", "account_name"] {
        if card.get(key).is_none() {
            card[key] = Value::Null;
        }
    }
    json!({
        "transaction": {
            "id": txn.id,
            "domain": "test",
            "reference": txn.reference,
            "amount": txn.amount,
            "paid_at": txn.paid_at,
            "channel": "card",
            "currency": txn.currency,
            "authorization": card,
            "customer": customer(double, txn),
            "plan": {},
            "subaccount": { "currency": null },
            "split": {},
            "order_id": null,
            "paidAt": txn.paid_at,
            "pos_transaction_data": null,
            "source": null,
            "fees_breakdown": null,
        },
        "integration": 463_433,
        "deducted_amount": 0,
        "channel": null,
        "merchant_note": merchant_note,
        "customer_note": customer_note,
        "status": "pending",
        "refunded_by": "api",
        "expected_at": now,
        "currency": txn.currency,
        "domain": "test",
        "amount": txn.amount,
        "fully_deducted": false,
        "id": id,
        "createdAt": now,
        "updatedAt": now,
    })
}

/// `data` of the `refund.processed` webhook (Paystack's documented example's fields).
pub(super) fn refund_processed(double: &Double, txn: &Txn, id: i64) -> Value {
    let customer = customer(double, txn);
    json!({
        "status": "processed",
        "transaction_reference": txn.reference,
        "refund_reference": format!("RF{id}"),
        "amount": txn.amount.to_string(),
        "currency": txn.currency,
        "processor": "visa",
        "customer": {
            "first_name": customer["first_name"],
            "last_name": customer["last_name"],
            "email": customer["email"],
        },
        "integration": 463_433,
        "domain": "test",
        "id": id.to_string(),
    })
}
