//! The contract between our Paystack client, the built-in test double and Paystack's own
//! OpenAPI spec (vendored, trimmed, in `tests/fixtures/paystack/`): the bodies our client
//! sends to initialize and charge_authorization are checked against the spec's request
//! schemas (required fields, types, documented names), and the double's answers to
//! initialize, verify, charge_authorization and refund — successes and refusals — and its
//! signed `charge.success` webhook against the response schemas. The double runs alone here, behind
//! a recorder that keeps every request and response body.

// A failed unwrap here is a failed test with its location, which is all it needs to say.
#![allow(clippy::unwrap_used)]

mod recorder;
mod spec;

use std::time::Duration;

use serde_json::json;
use server::paystack::{ChargeRequest, InitializeRequest, Paystack, PaystackError, RefundRequest};
use spec::{Spec, assert_conforms, violations};

const KEY: &str = "sk_test_contract";
const INITIALIZE: &str = "/transaction/initialize";
const VERIFY: &str = "/transaction/verify/{reference}";
const CHARGE: &str = "/transaction/charge_authorization";
const REFUND: &str = "/refund";

fn checkout(reference: &str) -> InitializeRequest {
    InitializeRequest {
        email: "ada@example.com".to_owned(),
        amount: 500_000,
        currency: "NGN".to_owned(),
        reference: reference.to_owned(),
        callback_url: "http://127.0.0.1:3000/billing/callback".to_owned(),
        metadata: json!({ "account_id": 7, "plan_id": 1, "cancel_action": "http://x/" }),
    }
}

fn renewal(reference: &str, authorization_code: &str) -> ChargeRequest {
    ChargeRequest {
        email: "ada@example.com".to_owned(),
        amount: 500_000,
        authorization_code: authorization_code.to_owned(),
        reference: reference.to_owned(),
        currency: "NGN".to_owned(),
        metadata: json!({ "account_id": 7, "plan_id": 1, "renewal_of": 3 }).to_string(),
    }
}

#[tokio::test]
async fn the_client_and_the_double_follow_paystacks_spec() {
    let spec = Spec::load();
    let double = recorder::start(KEY).await;
    let client = Paystack::new(double.api.clone(), KEY);

    // initialize: our request, the double's answer.
    let started = client
        .initialize(&checkout("atl_7_contract1"))
        .await
        .unwrap();
    let call = double.last(INITIALIZE);
    assert_conforms(
        "our initialize request",
        &spec.request("post", INITIALIZE),
        &call.request,
    );
    assert_eq!(call.status, 200);
    assert_conforms(
        "the double's initialize answer",
        &spec.response("post", INITIALIZE, "200"),
        &call.response,
    );

    // verify before payment, then the customer pays on the double's page.
    let ongoing = client.verify("atl_7_contract1").await.unwrap();
    assert_eq!(ongoing.status, "ongoing");
    let verify_200 = spec.response("get", VERIFY, "200");
    assert_conforms(
        "the double's verify answer (ongoing)",
        &verify_200,
        &double.last("/transaction/verify/").response,
    );
    let paid = double
        .browser
        .post(format!("{}/pay", started.authorization_url))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 303);
    let hook = double.webhook("atl_7_contract1").await;
    let data_schema = verify_200["properties"]["data"].clone();
    assert_eq!(hook["event"], "charge.success");
    assert_conforms(
        "the double's charge.success webhook",
        &data_schema,
        &hook["data"],
    );
    let verified = client.verify("atl_7_contract1").await.unwrap();
    assert_eq!(verified.status, "success");
    assert_conforms(
        "the double's verify answer (paid)",
        &verify_200,
        &double.last("/transaction/verify/").response,
    );
    let card = verified.reusable_authorization().unwrap().to_owned();

    // charge_authorization: our request, the double's answer and webhook.
    let charged = client
        .charge_authorization(&renewal("atl_7_contract2", &card))
        .await
        .unwrap();
    assert_eq!(charged.status, "success");
    let call = double.last(CHARGE);
    assert_conforms(
        "our charge_authorization request",
        &spec.request("post", CHARGE),
        &call.request,
    );
    let charge_200 = spec.response("post", CHARGE, "200");
    assert_conforms("the double's charge answer", &charge_200, &call.response);
    let hook = double.webhook("atl_7_contract2").await;
    assert_conforms("the charge's webhook", &data_schema, &hook["data"]);
    let renewed = client.verify("atl_7_contract2").await.unwrap();
    assert_eq!(
        (renewed.status.as_str(), renewed.amount),
        ("success", 500_000)
    );
    assert_conforms(
        "the double's verify answer (charged)",
        &verify_200,
        &double.last("/transaction/verify/").response,
    );

    // refund: our request, the double's answer; the transaction is reversed, and a second
    // refund is refused.
    let refund = RefundRequest {
        transaction: "atl_7_contract2".to_owned(),
        customer_note: "you switched plans".to_owned(),
        merchant_note: "renewal superseded".to_owned(),
    };
    let refunded = client.refund(&refund).await.unwrap();
    assert_eq!(
        (refunded.status.as_str(), refunded.amount),
        ("pending", 500_000)
    );
    let call = double.last(REFUND);
    assert_conforms(
        "our refund request",
        &spec.request("post", REFUND),
        &call.request,
    );
    assert_conforms(
        "the double's refund answer",
        &spec.response("post", REFUND, "200"),
        &call.response,
    );
    assert_eq!(
        client.verify("atl_7_contract2").await.unwrap().status,
        "reversed"
    );
    assert!(matches!(
        client.refund(&refund).await,
        Err(PaystackError::Refused(m)) if m.contains("reversed")
    ));

    // A declined charge is an answer of the same shape, status failed.
    double.decline_next_charge().await;
    let declined = client
        .charge_authorization(&renewal("atl_7_contract3", &card))
        .await
        .unwrap();
    assert_eq!(declined.status, "failed");
    assert_conforms(
        "the double's declined charge",
        &charge_200,
        &double.last(CHARGE).response,
    );

    // Refusals: a wrong key, a duplicate reference, an unknown reference.
    let intruder = Paystack::new(double.api.clone(), "sk_test_wrong");
    assert!(matches!(
        intruder.initialize(&checkout("atl_7_contract4")).await,
        Err(PaystackError::Refused(_))
    ));
    let call = double.last(INITIALIZE);
    assert_eq!(call.status, 401);
    assert_conforms(
        "the double's 401",
        &spec.response("post", INITIALIZE, "401"),
        &call.response,
    );
    assert!(matches!(
        client.initialize(&checkout("atl_7_contract1")).await,
        Err(PaystackError::Refused(m)) if m.contains("Duplicate")
    ));
    let call = double.last(INITIALIZE);
    assert_eq!(call.status, 400);
    assert_conforms(
        "the double's duplicate-reference 400",
        &spec.response("post", INITIALIZE, "400"),
        &call.response,
    );
    assert!(matches!(
        client.verify("atl_7_nothing").await,
        Err(PaystackError::NotFound(m)) if m.contains("not found")
    ));
    let call = double.last("/transaction/verify/");
    assert_eq!(call.status, 404);
    assert_conforms(
        "the double's 404",
        &spec.response("get", VERIFY, "404"),
        &call.response,
    );
}

/// The checks above can fail: bodies missing a required field, with a wrong type or an
/// undocumented name are caught.
#[test]
fn the_schemas_catch_missing_fields_wrong_types_and_unknown_names() {
    let spec = Spec::load();
    let request = spec.request("post", CHARGE);
    let good = serde_json::to_value(renewal("atl_1_x", "AUTH_x")).unwrap();
    assert!(violations(&request, &good).is_empty());
    let mut missing = good.clone();
    missing
        .as_object_mut()
        .unwrap()
        .remove("authorization_code");
    assert!(
        !violations(&request, &missing).is_empty(),
        "a required field"
    );
    let mut wrong = good.clone();
    wrong["amount"] = json!("500000");
    assert!(!violations(&request, &wrong).is_empty(), "amount as text");
    let mut object = good.clone();
    object["metadata"] = json!({ "account_id": 1 });
    assert!(
        !violations(&request, &object).is_empty(),
        "metadata must be a JSON text here"
    );
    let mut unknown = good.clone();
    unknown["callbackurl"] = json!("http://x/");
    assert!(
        !violations(&request, &unknown).is_empty(),
        "an undocumented name"
    );
    let mut currency = good;
    currency["currency"] = json!("EUR");
    assert!(
        !violations(&request, &currency).is_empty(),
        "an unsupported currency"
    );

    let verify = spec.response("get", VERIFY, "200");
    let answer = json!({ "status": true, "message": "ok", "data": { "id": 1 } });
    let found = violations(&verify, &answer);
    assert!(
        found.iter().any(|v| v.contains("receipt_number")),
        "{found:?}"
    );
}

/// How long the double's webhook may take to arrive.
pub const WEBHOOK_WAIT: Duration = Duration::from_secs(5);
