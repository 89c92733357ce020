//! What the billing stories share: a signed-in customer, checkout on the double, signed
//! webhooks, and waiting for asynchronous outcomes.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha512;
use store::payments::PaymentStatus;

use crate::common::{self, Browser, Service, location};

/// The test double's default secret key (development without PAYSTACK_SECRET_KEY).
pub const DOUBLE_KEY: &str = "sk_test_atlantic_double";

pub fn sign(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha512>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A signed-in customer without a plan.
pub async fn signed_in_customer(db: &store::Db, service: &Service, email: &str) -> Browser {
    let hash = store::accounts::hash_password(common::CUSTOMER_PASSWORD).unwrap();
    let account = store::accounts::create(
        db,
        email,
        &hash,
        store::accounts::Role::Customer,
        store::now_ms(),
    )
    .await
    .unwrap();
    store::credentials::create(db, account.id, store::now_ms())
        .await
        .unwrap();
    let browser = Browser::new(service);
    browser.sign_in_customer(email).await;
    browser
}

pub async fn plan_id(db: &store::Db, name: &str) -> String {
    store::plans::by_name(db, name)
        .await
        .unwrap()
        .unwrap()
        .id
        .get()
        .to_string()
}

/// Starts a checkout for `plan`; returns the double's checkout URL and the reference.
pub async fn start_checkout(browser: &Browser, db: &store::Db, plan: &str) -> (String, String) {
    let started = browser
        .post("/billing/checkout", &[("plan", &plan_id(db, plan).await)])
        .await;
    assert_eq!(started.status(), 303);
    let checkout = location(&started);
    assert!(
        checkout.contains("/paystack-double/checkout/"),
        "{checkout}"
    );
    let page = browser.client.get(&checkout).send().await.unwrap();
    let html = page.text().await.unwrap();
    let reference = html
        .split("reference ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap()
        .to_owned();
    (checkout, reference)
}

/// Pays (or declines) on the double's page and follows the redirect to our callback.
pub async fn finish(browser: &Browser, checkout: &str, pay: bool) -> String {
    let action = if pay { "pay" } else { "decline" };
    let done = browser
        .client
        .post(format!("{checkout}/{action}"))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    let callback = location(&done);
    assert!(callback.contains("/billing/callback?trxref="), "{callback}");
    let back = browser.client.get(&callback).send().await.unwrap();
    location(&back)
}

pub async fn payment_status(db: &store::Db, reference: &str) -> PaymentStatus {
    store::payments::by_reference(db, reference)
        .await
        .unwrap()
        .unwrap()
        .status
}

pub async fn subscription_count(db: &store::Db, email: &str) -> usize {
    let account = store::accounts::by_email(db, email).await.unwrap().unwrap();
    store::subscriptions::list_for_account(db, account.id)
        .await
        .unwrap()
        .len()
}

/// Waits until the double's webhook for `reference` was stored and processed.
pub async fn webhook_processed(db: &store::Db, reference: &str) {
    event_processed(db, &format!("charge.success:{reference}")).await;
}

/// Waits until the webhook stored under `key` was processed.
pub async fn event_processed(db: &store::Db, key: &str) {
    for _ in 0..100 {
        if let Some(event) = store::payments::webhook_inbox::event_by_key(db, key)
            .await
            .unwrap()
            && event.processed_at.is_some()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the webhook {key} was not processed within 5 s");
}

/// Polls `probe` every 100 ms until it returns `Some`, failing the test after `secs`.
pub async fn wait_for<T, F, Fut>(what: &str, secs: u64, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Posts `body` to the webhook as Paystack would, signed with the double's key, with extra
/// headers (e.g. `x-forwarded-for`).
pub async fn deliver(
    service: &Service,
    body: &serde_json::Value,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let body = body.to_string();
    let mut request = common::client()
        .post(format!("{}/webhooks/paystack", service.base))
        .header("x-paystack-signature", sign(DOUBLE_KEY, body.as_bytes()))
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(body).send().await.unwrap()
}

/// The account of `email`.
pub async fn account(db: &store::Db, email: &str) -> store::accounts::Account {
    store::accounts::by_email(db, email).await.unwrap().unwrap()
}

/// The subscription that serves `email` now.
pub async fn current(db: &store::Db, email: &str) -> store::subscriptions::Subscription {
    let account = account(db, email).await;
    store::subscriptions::current(db, account.id, store::now_ms())
        .await
        .unwrap()
        .unwrap()
}

/// The account's payments, newest first.
pub async fn payments_of(db: &store::Db, email: &str) -> Vec<store::payments::Payment> {
    let account = account(db, email).await;
    store::payments::list_for_account(db, account.id, store::Page::first(50))
        .await
        .unwrap()
}

/// A signed-in customer who paid a Starter checkout on the double (callback and webhook
/// both done): their card is saved.
pub async fn paying_customer(db: &store::Db, service: &Service, email: &str) -> Browser {
    let browser = signed_in_customer(db, service, email).await;
    let (checkout, reference) = start_checkout(&browser, db, "Starter").await;
    assert_eq!(
        finish(&browser, &checkout, true).await,
        "/billing?notice=paid"
    );
    webhook_processed(db, &reference).await;
    browser
}

/// Asks the service's double to decline its next `charge_authorization`.
pub async fn decline_next_charge(service: &Service) {
    let answer = common::client()
        .post(format!(
            "{}/paystack-double/test/decline_next_charge",
            service.base
        ))
        .bearer_auth(DOUBLE_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

/// Moves the subscription's period end (and its grace after it) to `period_end`.
pub async fn end_period_at(db: &store::Db, subscription: store::SubscriptionId, period_end: i64) {
    sqlx::query("UPDATE subscriptions SET period_end = $1, grace_until = $2 WHERE id = $3")
        .bind(period_end)
        .bind(store::payments::grace_until(period_end))
        .bind(subscription)
        .execute(db.pool())
        .await
        .unwrap();
}

/// What the gateway answers the account's proxy credentials, once it settles on `want`
/// (it reloads accounts within seconds): the `X-Atlantic-Error` code, `ok` for the origin's
/// 200, or `status N` for anything else.
pub async fn gateway_answer(service: &Service, db: &store::Db, email: &str, want: &str) -> String {
    let account = store::accounts::by_email(db, email).await.unwrap().unwrap();
    let creds = store::credentials::by_account(db, account.id)
        .await
        .unwrap()
        .unwrap();
    let origin = common::origin("through").await;
    let proxy = reqwest::Client::builder()
        .proxy(
            reqwest::Proxy::http(format!("http://{}", service.http_proxy))
                .unwrap()
                .basic_auth(&creds.username, &creds.secret),
        )
        .build()
        .unwrap();
    let mut answer = String::new();
    for _ in 0..60 {
        let response = proxy.get(format!("http://{origin}/")).send().await.unwrap();
        answer = match response.headers().get("x-atlantic-error") {
            Some(code) => code.to_str().unwrap().to_owned(),
            None if response.status() == 200 => "ok".to_owned(),
            None => format!("status {}", response.status()),
        };
        if answer == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    answer
}
