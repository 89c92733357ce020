//! `POST /refund` in the double: a full refund of a successful transaction, as Paystack takes
//! it — queued (`status: pending`), the transaction `reversed`, then a signed
//! `refund.processed` webhook. A transaction that is unknown, not paid, or refunded already
//! is refused with Paystack's messages.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Double, amount_of, iso8601, refuse, shapes};

#[derive(Deserialize)]
pub(super) struct RefundBody {
    /// A reference, or a transaction id (as text or a number).
    transaction: Option<Value>,
    amount: Option<Value>,
    #[serde(default)]
    customer_note: String,
    #[serde(default)]
    merchant_note: String,
}

/// Refunds a transaction in full (a partial `amount` is refused: we never ask for one).
pub(super) async fn refund(
    State(double): State<Double>,
    headers: HeaderMap,
    Json(body): Json<RefundBody>,
) -> Response {
    if !double.authorized(&headers) {
        return refuse(StatusCode::UNAUTHORIZED, "Invalid key");
    }
    let wanted = match &body.transaction {
        Some(Value::String(text)) if !text.is_empty() => text.clone(),
        Some(Value::Number(id)) => id.to_string(),
        _ => return refuse(StatusCode::BAD_REQUEST, "Transaction reference is required"),
    };
    let refunded = {
        let mut txns = double.lock();
        let Some(txn) = txns
            .values_mut()
            .find(|t| t.reference == wanted || t.id.to_string() == wanted)
        else {
            return refuse(StatusCode::NOT_FOUND, "Transaction not found");
        };
        match txn.status {
            "success" => {}
            "reversed" => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "Transaction has been fully reversed",
                );
            }
            _ => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "Cannot refund a transaction that was not successful",
                );
            }
        }
        if body.amount.is_some() && amount_of(body.amount.as_ref()) != Some(txn.amount) {
            return refuse(
                StatusCode::BAD_REQUEST,
                "The double refunds whole transactions only",
            );
        }
        txn.status = "reversed";
        txn.clone()
    };
    let now = iso8601(store::now_ms());
    let id = double.next_id();
    let data = shapes::refund(
        &double,
        &refunded,
        id,
        &body.customer_note,
        &body.merchant_note,
        &now,
    );
    double.deliver(
        "refund.processed",
        shapes::refund_processed(&double, &refunded, id),
    );
    Json(json!({
        "status": true,
        "message": "Refund has been queued for processing",
        "data": data,
    }))
    .into_response()
}
