//! The built-in Paystack test double (development and tests; never in production): the
//! endpoints we call, with Paystack's request and response shapes ([`shapes`]), a small hosted
//! checkout page where the tester chooses "Pay" or "Decline", the redirect back to
//! `callback_url` with `reference` and `trxref`, charging a saved card ([`charge`]), refunds
//! ([`refund`]), and the `charge.success` and `refund.processed` webhooks signed exactly as
//! Paystack signs them; tests can make its API slow or failing ([`faults`]). Mounted at
//! `/paystack-double/` when `PAYSTACK_BASE_URL` is not set.
//!
//! The one part of billing built on axum: the double *is* an HTTP server, standing where
//! Paystack's API stands. It stays beside the client and the signature it mirrors; nothing in
//! billing's domain uses it, and it uses nothing of `http/`.

mod charge;
mod faults;
mod refund;
mod shapes;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::signature;

/// Where the double is mounted.
pub const MOUNT: &str = "/paystack-double";

/// One transaction, as the double keeps it.
#[derive(Clone, Debug)]
struct Txn {
    id: i64,
    email: String,
    amount: i64,
    currency: String,
    reference: String,
    callback_url: String,
    metadata: Value,
    status: &'static str,
    created_at: String,
    paid_at: Option<String>,
    /// The card used, once one was (a paid checkout, or a charge of a saved card).
    authorization_code: Option<String>,
}

/// The double's state: its transactions, in memory.
#[derive(Clone)]
pub struct Double {
    secret_key: Arc<str>,
    public_base: Url,
    webhook_url: Url,
    txns: Arc<Mutex<HashMap<String, Txn>>>,
    codes: Arc<Mutex<HashMap<String, String>>>,
    /// How many of the next `charge_authorization` calls are declined (set by tests).
    declines: Arc<AtomicU32>,
    /// Slowness and failures of the API (set by tests, see [`faults`]).
    faults: Arc<faults::Faults>,
    /// The last transaction id handed out.
    last_id: Arc<AtomicI64>,
    http: reqwest::Client,
}

impl Double {
    /// A double that accepts `secret_key`, is reached at `public_base` (ending in
    /// `/paystack-double/`) and delivers webhooks to `webhook_url`.
    pub fn new(secret_key: &str, public_base: Url, webhook_url: Url) -> Double {
        Double {
            secret_key: Arc::from(secret_key),
            public_base,
            webhook_url,
            txns: Arc::default(),
            codes: Arc::default(),
            declines: Arc::default(),
            faults: Arc::default(),
            last_id: Arc::new(AtomicI64::new(4_099_260_000)),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .expect("a reqwest client builds"),
        }
    }

    /// The double's routes, to nest at [`MOUNT`].
    pub fn router(self) -> Router {
        let api = Router::new()
            .route("/transaction/initialize", post(initialize))
            .route("/transaction/verify/{reference}", get(verify))
            .route(
                "/transaction/charge_authorization",
                post(charge::charge_authorization),
            )
            .route("/refund", post(refund::refund))
            .route_layer(axum::middleware::from_fn_with_state(
                self.clone(),
                faults::apply,
            ));
        Router::new()
            .merge(api)
            .route(charge::DECLINE_NEXT, post(charge::decline_next_charge))
            .route(faults::FAIL_NEXT, post(faults::fail_next))
            .route(faults::DELAY, post(faults::delay))
            .route("/checkout/{code}", get(checkout_page))
            .route("/checkout/{code}/pay", post(pay))
            .route("/checkout/{code}/decline", post(decline))
            .with_state(self)
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let expected = format!("Bearer {}", self.secret_key);
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == expected)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Txn>> {
        self.txns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The saved-card code the double hands out for `email`'s payments: derived from the key
    /// and the email, so it outlives a restart and is refused for another customer, as
    /// Paystack refuses another customer's authorization.
    fn authorization_code_for(&self, email: &str) -> String {
        let digest = signature::sign(&self.secret_key, email.trim().to_lowercase().as_bytes());
        format!("AUTH_{}", &digest[..10])
    }

    /// Records a new transaction; `false` when the reference is taken.
    fn insert(&self, txn: Txn) -> bool {
        let mut txns = self.lock();
        if txns.contains_key(&txn.reference) {
            return false;
        }
        txns.insert(txn.reference.clone(), txn);
        true
    }

    /// A fresh transaction id.
    fn next_id(&self) -> i64 {
        self.last_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Announces a successful transaction with a signed `charge.success` webhook, as Paystack
    /// does (failures only show through verify). Delivered in the background.
    fn announce(&self, txn: &Txn) {
        self.deliver("charge.success", shapes::transaction(self, txn));
    }

    /// Delivers a webhook `{ event, data }`, signed as Paystack signs it, in the background.
    fn deliver(&self, event: &str, data: Value) {
        let body = json!({ "event": event, "data": data });
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let signature = signature::sign(&self.secret_key, &body);
        let request = self
            .http
            .post(self.webhook_url.clone())
            .header("x-paystack-signature", signature)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body);
        tokio::spawn(async move {
            match request.send().await {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => {
                    tracing::warn!(status = %response.status(), "test double: webhook refused")
                }
                Err(error) => tracing::warn!(%error, "test double: webhook not delivered"),
            }
        });
    }
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "status": false, "message": message }))).into_response()
}

#[derive(Deserialize)]
struct InitializeBody {
    email: Option<String>,
    amount: Option<Value>,
    currency: Option<String>,
    reference: Option<String>,
    callback_url: Option<String>,
    #[serde(default)]
    metadata: Value,
}

/// Paystack's `amount` may be an integer or a numeric string.
fn amount_of(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .filter(|a| *a > 0)
}

async fn initialize(
    State(double): State<Double>,
    headers: HeaderMap,
    Json(body): Json<InitializeBody>,
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
    let reference = body
        .reference
        .unwrap_or_else(|| format!("T{}", rand::random::<u64>()));
    let code = format!("{:x}", rand::random::<u64>());
    let txn = Txn {
        id: double.next_id(),
        email,
        amount,
        currency: body.currency.unwrap_or_else(|| "NGN".to_owned()),
        reference: reference.clone(),
        callback_url: body.callback_url.unwrap_or_default(),
        metadata: body.metadata,
        status: "ongoing",
        created_at: iso8601(store::now_ms()),
        paid_at: None,
        authorization_code: None,
    };
    if !double.insert(txn) {
        return refuse(StatusCode::BAD_REQUEST, "Duplicate Transaction Reference");
    }
    double
        .codes
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(code.clone(), reference.clone());
    let authorization_url = double
        .public_base
        .join(&format!("checkout/{code}"))
        .map(String::from)
        .unwrap_or_default();
    Json(json!({
        "status": true,
        "message": "Authorization URL created",
        "data": { "authorization_url": authorization_url, "access_code": code, "reference": reference }
    }))
    .into_response()
}

async fn verify(
    State(double): State<Double>,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> Response {
    if !double.authorized(&headers) {
        return refuse(StatusCode::UNAUTHORIZED, "Invalid key");
    }
    match double.lock().get(&reference) {
        Some(txn) => Json(json!({
            "status": true,
            "message": "Verification successful",
            "data": shapes::transaction(&double, txn),
        }))
        .into_response(),
        None => refuse(StatusCode::NOT_FOUND, "Transaction reference not found"),
    }
}

fn txn_for_code(double: &Double, code: &str) -> Option<Txn> {
    let reference = double
        .codes
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(code)
        .cloned()?;
    double.lock().get(&reference).cloned()
}

async fn checkout_page(State(double): State<Double>, Path(code): Path<String>) -> Response {
    let Some(txn) = txn_for_code(&double, &code) else {
        return (StatusCode::NOT_FOUND, "no such checkout\n").into_response();
    };
    let amount = format!(
        "{} {}.{:02}",
        txn.currency,
        txn.amount / 100,
        txn.amount % 100
    );
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><meta charset=\"utf-8\">\
         <title>Paystack test checkout</title><link rel=\"icon\" href=\"/favicon.svg\">\
         <h1>Paystack test checkout</h1>\
         <p>This is AtlanticProxy's built-in Paystack test double: no money moves.</p>\
         <p>Pay <strong id=\"amount\">{amount}</strong> as {email} (reference {reference}).</p>\
         <form method=\"post\" action=\"{code}/pay\"><button type=\"submit\">Pay</button></form>\
         <form method=\"post\" action=\"{code}/decline\"><button type=\"submit\">Decline</button></form>",
        email = html_escape(&txn.email),
        reference = html_escape(&txn.reference),
        code = html_escape(&code),
    ))
    .into_response()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn pay(State(double): State<Double>, Path(code): Path<String>) -> Response {
    finish(double, &code, true).await
}

async fn decline(State(double): State<Double>, Path(code): Path<String>) -> Response {
    finish(double, &code, false).await
}

/// Ends a checkout: the outcome is recorded, a successful one is announced by a signed
/// `charge.success` webhook (as Paystack does; failures only show through verify), and the
/// customer goes back to the callback URL.
async fn finish(double: Double, code: &str, paid: bool) -> Response {
    let Some(txn) = txn_for_code(&double, code) else {
        return (StatusCode::NOT_FOUND, "no such checkout\n").into_response();
    };
    let updated = {
        let mut txns = double.lock();
        let Some(entry) = txns.get_mut(&txn.reference) else {
            return (StatusCode::NOT_FOUND, "no such checkout\n").into_response();
        };
        // As on Paystack's page, a declined card may be followed by another try.
        if matches!(entry.status, "ongoing" | "failed") {
            entry.status = if paid { "success" } else { "failed" };
            entry.paid_at = paid.then(|| iso8601(store::now_ms()));
            if paid {
                entry.authorization_code = Some(double.authorization_code_for(&entry.email));
            }
        }
        entry.clone()
    };
    if updated.status == "success" {
        double.announce(&updated);
    }
    let mut back = match Url::parse(&updated.callback_url) {
        Ok(url) => url,
        Err(_) => return (StatusCode::OK, "payment finished; no callback URL\n").into_response(),
    };
    back.query_pairs_mut()
        .append_pair("trxref", &updated.reference)
        .append_pair("reference", &updated.reference);
    Redirect::to(back.as_str()).into_response()
}

/// `2026-11-22T07:05:09.000Z` from epoch milliseconds.
fn iso8601(ms: i64) -> String {
    let (year, month, day) = app::format::civil_date(ms);
    let rem = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_iso_8601_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(1_795_331_109_123), "2026-11-22T07:05:09.123Z");
    }

    #[test]
    fn amounts_are_positive_integers_or_numeric_strings() {
        assert_eq!(amount_of(Some(&json!(500_000))), Some(500_000));
        assert_eq!(amount_of(Some(&json!("500000"))), Some(500_000));
        assert_eq!(amount_of(Some(&json!(0))), None);
        assert_eq!(amount_of(Some(&json!(-5))), None);
        assert_eq!(amount_of(Some(&json!("5.5"))), None);
        assert_eq!(amount_of(None), None);
    }

    proptest::proptest! {
        #[test]
        fn an_amount_reads_the_same_as_a_number_or_as_text(amount in proptest::num::i64::ANY) {
            let expected = (amount > 0).then_some(amount);
            proptest::prop_assert_eq!(amount_of(Some(&json!(amount))), expected);
            proptest::prop_assert_eq!(amount_of(Some(&json!(amount.to_string()))), expected);
            // Fractions of the subunit do not exist.
            let fraction = format!("{amount}.5");
            proptest::prop_assert_eq!(amount_of(Some(&json!(fraction))), None);
        }
    }

    #[test]
    fn saved_cards_belong_to_one_customer_and_outlive_a_restart() {
        let double = |key: &str| {
            Double::new(
                key,
                Url::parse("http://127.0.0.1/paystack-double/").expect("url"),
                Url::parse("http://127.0.0.1/webhooks/paystack").expect("url"),
            )
        };
        let first = double("sk_test_a").authorization_code_for("ada@example.com");
        assert!(first.starts_with("AUTH_") && first.len() == 15, "{first}");
        assert_eq!(
            double("sk_test_a").authorization_code_for(" Ada@Example.com"),
            first
        );
        assert_ne!(
            double("sk_test_a").authorization_code_for("bob@example.com"),
            first
        );
        assert_ne!(
            double("sk_test_b").authorization_code_for("ada@example.com"),
            first
        );
    }
}
