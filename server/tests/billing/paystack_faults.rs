//! Paystack failing or slow, through the real service and its double told to misbehave
//! (`/paystack-double/test/fail_next`, `/paystack-double/test/delay`): once the breaker is
//! open checkout fails at once with a clear message; a payment made on Paystack's page during
//! the outage is acknowledged by its webhook, stored, and fulfilled once Paystack answers again
//! — once; a slow Paystack makes checkout slow, never double. Loopback only; each test is
//! bounded (the breaker stays open 30 s, so the outage test takes about that long).

use std::time::{Duration, Instant};

use store::payments::PaymentStatus;

use crate::common::{self, Engine, Service, TestDb, location};
use crate::support::{
    DOUBLE_KEY, finish, payment_status, payments_of, plan_id, signed_in_customer, start_checkout,
    subscription_count, wait_for, webhook_processed,
};

/// Tells the service's double to misbehave: `control` is e.g. `fail_next?count=3`.
async fn tell_double(service: &Service, control: &str) {
    let answer = common::client()
        .post(format!("{}/paystack-double/test/{control}", service.base))
        .bearer_auth(DOUBLE_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{control}");
}

async fn metric_line(service: &Service, needle: &[&str]) -> bool {
    let metrics = service.get("/metrics").await.text().await.unwrap();
    metrics
        .lines()
        .any(|l| needle.iter().all(|n| l.contains(n)))
}

async fn an_outage_fails_checkout_fast_and_keeps_the_payment_made_meanwhile(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let email = "out@example.com";
    let browser = signed_in_customer(db.db(), &service, email).await;
    // Started while Paystack answered; paid on its page during the outage below.
    let (checkout, reference) = start_checkout(&browser, db.db(), "Starter").await;

    tell_double(&service, "fail_next?count=1000").await;
    let plan = plan_id(db.db(), "Starter").await;
    for _ in 0..3 {
        let refused = browser.post("/billing/checkout", &[("plan", &plan)]).await;
        assert_eq!(location(&refused), "/billing?error=paystack_unavailable");
    }
    // The breaker is open: the next checkout does not wait for Paystack at all.
    let started = Instant::now();
    let refused = browser.post("/billing/checkout", &[("plan", &plan)]).await;
    assert_eq!(location(&refused), "/billing?error=paystack_unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "failed fast: {:?}",
        started.elapsed()
    );
    assert!(
        metric_line(
            &service,
            &[
                "atlantic_paystack_requests_total",
                "outcome=\"circuit_open\""
            ]
        )
        .await,
        "counted as refused by the open circuit"
    );
    let page = browser
        .get("/billing?error=paystack_unavailable")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"paystack-down\""),
        "the page says checkout is paused"
    );
    assert!(page.contains("Paystack is not reachable right now"));

    // The customer pays on Paystack's page (it works; its API does not). The webhook is
    // acknowledged and stored; nothing is activated yet, nothing lost.
    let paid = browser
        .client
        .post(format!("{checkout}/pay"))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 303);
    let key = format!("charge.success:{reference}");
    let stored = wait_for("the stored webhook", 10, || async {
        store::payments::webhook_inbox::event_by_key(db.db(), &key)
            .await
            .unwrap()
    })
    .await;
    assert!(
        stored.processed_at.is_none(),
        "not fulfilled while Paystack is down"
    );
    let back = browser.client.get(location(&paid)).send().await.unwrap();
    assert_eq!(location(&back), "/billing?notice=unconfirmed");
    let told = browser.get("/billing?notice=unconfirmed").await;
    let told = told.text().await.unwrap();
    assert!(
        told.contains("could not reach Paystack to confirm"),
        "{told}"
    );
    assert!(!told.contains("Nothing was charged"), "{told}");
    assert_eq!(
        payment_status(db.db(), &reference).await,
        PaymentStatus::Pending
    );
    assert_eq!(subscription_count(db.db(), email).await, 0);
    service.housekeep().await;
    assert_eq!(
        payment_status(db.db(), &reference).await,
        PaymentStatus::Pending,
        "housekeeping waits for the circuit"
    );

    // Paystack answers again: once the breaker lets a call through (30 s), housekeeping
    // fulfils the stored webhook.
    tell_double(&service, "fail_next?count=0").await;
    wait_for("the payment fulfilled after the outage", 45, || async {
        service.housekeep().await;
        (payment_status(db.db(), &reference).await == PaymentStatus::Success).then_some(())
    })
    .await;
    webhook_processed(db.db(), &reference).await;
    // The callback, replayed now, and later runs change nothing: credited once.
    let again = browser
        .get(&format!("/billing/callback?reference={reference}"))
        .await;
    assert_eq!(location(&again), "/billing?notice=paid");
    service.housekeep().await;
    assert_eq!(subscription_count(db.db(), email).await, 1, "credited once");
    let payments = payments_of(db.db(), email).await;
    assert_eq!(payments.len(), 5, "the paid one and four refused checkouts");
    assert_eq!(
        payments
            .iter()
            .filter(|p| p.status == PaymentStatus::Success)
            .count(),
        1
    );
    assert!(
        payments.iter().all(|p| p.status != PaymentStatus::Pending),
        "none left pending: {payments:?}"
    );
    let kinds = common::activity_kinds(db.db(), email).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "payment.succeeded").count(),
        1,
        "{kinds:?}"
    );
    // And checkout works again.
    let (_, fresh) = start_checkout(&browser, db.db(), "Personal").await;
    assert_eq!(
        payment_status(db.db(), &fresh).await,
        PaymentStatus::Pending
    );
    service.stop().await.expect("clean stop");
}
on_both_engines!(an_outage_fails_checkout_fast_and_keeps_the_payment_made_meanwhile);

async fn a_slow_paystack_makes_checkout_slow_never_double(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let email = "slo@example.com";
    let browser = signed_in_customer(db.db(), &service, email).await;
    tell_double(&service, "delay?ms=1500").await;
    let started = Instant::now();
    let (checkout, reference) = start_checkout(&browser, db.db(), "Starter").await;
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "the checkout waited for Paystack"
    );
    // The callback's verify and the webhook's verify race, both slow: one credits.
    assert_eq!(
        finish(&browser, &checkout, true).await,
        "/billing?notice=paid"
    );
    wait_for("the webhook processed", 20, || async {
        store::payments::webhook_inbox::event_by_key(
            db.db(),
            &format!("charge.success:{reference}"),
        )
        .await
        .unwrap()
        .filter(|e| e.processed_at.is_some())
    })
    .await;
    tell_double(&service, "delay?ms=0").await;
    assert_eq!(subscription_count(db.db(), email).await, 1, "credited once");
    let payments = payments_of(db.db(), email).await;
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].status, PaymentStatus::Success);
    let kinds = common::activity_kinds(db.db(), email).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "payment.succeeded").count(),
        1,
        "{kinds:?}"
    );
    // The breaker never opened: slow is not down (the metrics are shared by every service
    // in this process, so the page is asked, not the counters).
    let page = browser.get("/billing").await.text().await.unwrap();
    assert!(
        !page.contains("id=\"paystack-down\""),
        "checkout is not paused"
    );
    service.stop().await.expect("clean stop");
}
on_both_engines!(a_slow_paystack_makes_checkout_slow_never_double);

async fn the_double_controls_need_its_key(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    for control in ["fail_next?count=1", "delay?ms=10"] {
        let answer = common::client()
            .post(format!("{}/paystack-double/test/{control}", service.base))
            .bearer_auth("sk_test_wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 401, "{control}");
    }
    let too_slow = common::client()
        .post(format!(
            "{}/paystack-double/test/delay?ms=600000",
            service.base
        ))
        .bearer_auth(DOUBLE_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(too_slow.status(), 400);
    service.stop().await.expect("clean stop");
}
on_both_engines!(the_double_controls_need_its_key);
