//! `POST /transaction/charge_authorization` in the double: charges a saved card at once, as
//! Paystack does, answering with the transaction (`success` or `failed`) and announcing a
//! success with a signed `charge.success` webhook. The card must be the one the double gave
//! that customer's email. Tests make the next charges decline with `POST
//! /paystack-double/test/decline_next_charge` (the double's secret key as Bearer token).

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Double, Txn, amount_of, iso8601, refuse, shapes};

/// Where tests ask for the next charge to be declined.
pub(super) const DECLINE_NEXT: &str = "/test/decline_next_charge";

#[derive(Deserialize)]
pub(super) struct ChargeBody {
    email: Option<String>,
    amount: Option<Value>,
    authorization_code: Option<String>,
    reference: Option<String>,
    currency: Option<String>,
    /// Paystack documents a JSON text here; an object is kept as it is.
    #[serde(default)]
    metadata: Value,
}

/// Charges a saved card.
pub(super) async fn charge_authorization(
    State(double): State<Double>,
    headers: HeaderMap,
    Json(body): Json<ChargeBody>,
) -> Response {
    if !double.authorized(&headers) {
        return refuse(StatusCode::UNAUTHORIZED, "Invalid key");
    }
    let Some(email) = body.email.filter(|e| e.contains('@')) else {
        return refuse(StatusCode::BAD_REQUEST, "Invalid Email Address Passed");
    };
    let Some(amount) = amount_of(body.amount.as_ref()) else {
        return refuse(StatusCode::BAD_REQUEST, "Invalid Amount Sent");
    };
    let code = double.authorization_code_for(&email);
    if body.authorization_code.as_deref() != Some(code.as_str()) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "Invalid authorization code for this customer",
        );
    }
    let declined = double
        .declines
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok();
    let now = iso8601(store::now_ms());
    let txn = Txn {
        id: double.next_id(),
        email,
        amount,
        currency: body.currency.unwrap_or_else(|| "NGN".to_owned()),
        reference: body
            .reference
            .unwrap_or_else(|| format!("T{}", rand::random::<u64>())),
        callback_url: String::new(),
        metadata: body.metadata,
        status: if declined { "failed" } else { "success" },
        created_at: now.clone(),
        paid_at: (!declined).then_some(now),
        authorization_code: Some(code),
    };
    if !double.insert(txn.clone()) {
        return refuse(StatusCode::BAD_REQUEST, "Duplicate Transaction Reference");
    }
    if !declined {
        double.announce(&txn);
    }
    Json(json!({
        "status": true,
        "message": "Charge attempted",
        "data": shapes::charge(&double, &txn),
    }))
    .into_response()
}

/// Makes the next `charge_authorization` decline (call again for more).
pub(super) async fn decline_next_charge(
    State(double): State<Double>,
    headers: HeaderMap,
) -> Response {
    if !double.authorized(&headers) {
        return refuse(StatusCode::UNAUTHORIZED, "Invalid key");
    }
    let pending = double.declines.fetch_add(1, Ordering::AcqRel) + 1;
    Json(json!({
        "status": true,
        "message": "The next charge will be declined",
        "data": { "declines_pending": pending },
    }))
    .into_response()
}
