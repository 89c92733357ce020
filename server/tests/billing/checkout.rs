//! Checkout: callback and webhook settle a payment exactly once; forged webhooks, replays and
//! mismatches change nothing; a Paystack outage opens the circuit and says so; expiry and a
//! new checkout move the gateway.

use store::payments::PaymentStatus;

use crate::common::{self, Engine, Service, TestDb, location};
use crate::support::{
    DOUBLE_KEY, finish, gateway_answer, payment_status, plan_id, sign, signed_in_customer,
    start_checkout, subscription_count, webhook_processed,
};

async fn buying_a_plan_activates_it_once(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let email = "ada@example.com";
    let browser = signed_in_customer(db.db(), &service, email).await;
    let account = store::accounts::by_email(db.db(), email)
        .await
        .unwrap()
        .unwrap();
    // The gateway learns of the new account within seconds; until it has a plan, it refuses.
    assert_eq!(
        gateway_answer(&service, db.db(), email, "quota_exceeded").await,
        "quota_exceeded",
        "no plan yet"
    );

    let (checkout, reference) = start_checkout(&browser, db.db(), "Personal").await;
    let page = browser.client.get(&checkout).send().await.unwrap();
    assert!(
        page.text().await.unwrap().contains("NGN 20000.00"),
        "the plan's price"
    );
    assert_eq!(
        payment_status(db.db(), &reference).await,
        PaymentStatus::Pending
    );

    // The callback and the double's webhook race for the same reference.
    assert_eq!(
        finish(&browser, &checkout, true).await,
        "/billing?notice=paid"
    );
    webhook_processed(db.db(), &reference).await;
    assert_eq!(
        payment_status(db.db(), &reference).await,
        PaymentStatus::Success
    );
    assert_eq!(subscription_count(db.db(), email).await, 1, "credited once");
    let kinds = common::activity_kinds(db.db(), email).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "payment.succeeded").count(),
        1,
        "the payment is in the activity log once: {kinds:?}"
    );
    let current = store::subscriptions::current(db.db(), account.id, store::now_ms())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        current.plan_id.get().to_string(),
        plan_id(db.db(), "Personal").await
    );

    // The gateway follows within seconds.
    assert_eq!(
        gateway_answer(&service, db.db(), email, "ok").await,
        "ok",
        "the paid plan reaches the gateway"
    );

    // Coming back to the callback again (a reload) changes nothing.
    let again = browser
        .get(&format!("/billing/callback?reference={reference}"))
        .await;
    assert_eq!(location(&again), "/billing?notice=paid");
    assert_eq!(subscription_count(db.db(), email).await, 1);

    let billing = browser.post("/api/billing", &[]).await;
    assert_eq!(billing.status(), 200);
    let text = billing.text().await.unwrap();
    assert!(
        text.contains("Personal") && text.contains(&reference),
        "{text}"
    );
    service.stop().await.expect("clean stop");
}
on_both_engines!(buying_a_plan_activates_it_once);

async fn declined_and_mismatched_payments_never_activate(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let email = "bea@example.com";
    let browser = signed_in_customer(db.db(), &service, email).await;

    let (checkout, declined) = start_checkout(&browser, db.db(), "Starter").await;
    assert_eq!(
        finish(&browser, &checkout, false).await,
        "/billing?error=declined"
    );
    assert_eq!(
        payment_status(db.db(), &declined).await,
        PaymentStatus::Failed
    );

    // Our record says one kobo more than Paystack charged: a mismatch, never activated.
    let (checkout, reference) = start_checkout(&browser, db.db(), "Team").await;
    sqlx::query("UPDATE payments SET amount_minor = amount_minor + 1 WHERE reference = $1")
        .bind(&reference)
        .execute(db.db().pool())
        .await
        .unwrap();
    assert_eq!(
        finish(&browser, &checkout, true).await,
        "/billing?error=mismatch"
    );
    webhook_processed(db.db(), &reference).await;
    assert_eq!(
        payment_status(db.db(), &reference).await,
        PaymentStatus::Mismatch
    );
    assert_eq!(
        subscription_count(db.db(), email).await,
        0,
        "nothing activated"
    );
    assert!(
        common::activity_kinds(db.db(), email)
            .await
            .contains(&"payment.mismatch".to_owned()),
        "the mismatch is shown to the customer"
    );
    service.stop().await.expect("clean stop");
}
on_both_engines!(declined_and_mismatched_payments_never_activate);

async fn webhooks_must_be_signed_and_count_once(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let email = "cy@example.com";
    let browser = signed_in_customer(db.db(), &service, email).await;
    let (checkout, reference) = start_checkout(&browser, db.db(), "Starter").await;

    // The customer paid, but never came back: only webhooks arrive.
    let paid = browser
        .client
        .post(format!("{checkout}/pay"))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 303);
    webhook_processed(db.db(), &reference).await;
    assert_eq!(
        payment_status(db.db(), &reference).await,
        PaymentStatus::Success
    );

    let body = serde_json::json!({
        "event": "charge.success",
        "data": { "reference": reference, "amount": 500000, "currency": "NGN", "status": "success" }
    })
    .to_string();
    let url = format!("{}/webhooks/paystack", service.base);
    let client = common::client();
    // Forged and unsigned deliveries: 401, nothing stored.
    let forged_event = serde_json::json!({
        "event": "charge.success",
        "data": { "reference": "atl_forged", "amount": 1, "currency": "NGN" }
    })
    .to_string();
    for signature in [Some(sign("sk_test_wrong", forged_event.as_bytes())), None] {
        let mut request = client.post(&url).body(forged_event.clone());
        if let Some(signature) = signature {
            request = request.header("x-paystack-signature", signature);
        }
        assert_eq!(request.send().await.unwrap().status(), 401);
    }
    assert!(
        store::payments::webhook_inbox::event_by_key(db.db(), "charge.success:atl_forged")
            .await
            .unwrap()
            .is_none(),
        "a forged delivery is not even stored"
    );

    // Paystack's retries of a real delivery: acknowledged, counted once.
    for _ in 0..3 {
        let replay = client
            .post(&url)
            .header("x-paystack-signature", sign(DOUBLE_KEY, body.as_bytes()))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(replay.status(), 200);
        assert_eq!(replay.text().await.unwrap(), "duplicate\n");
    }
    assert_eq!(subscription_count(db.db(), email).await, 1);
    service.stop().await.expect("clean stop");
}
on_both_engines!(webhooks_must_be_signed_and_count_once);

async fn a_paystack_outage_opens_the_circuit_and_the_page_says_so(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    // Nothing listens on port 9 here: every call fails at once.
    let service = Service::start_with(
        db.url(),
        &[
            ("PAYSTACK_BASE_URL", "http://127.0.0.1:9/"),
            ("PAYSTACK_SECRET_KEY", "sk_test_outage"),
        ],
    )
    .await;
    let email = "dee@example.com";
    let browser = signed_in_customer(db.db(), &service, email).await;
    let plan = plan_id(db.db(), "Starter").await;
    for _ in 0..4 {
        let refused = browser.post("/billing/checkout", &[("plan", &plan)]).await;
        assert_eq!(location(&refused), "/billing?error=paystack_unavailable");
    }
    let account = store::accounts::by_email(db.db(), email)
        .await
        .unwrap()
        .unwrap();
    let payments = store::payments::list_for_account(db.db(), account.id, store::Page::first(10))
        .await
        .unwrap();
    assert_eq!(payments.len(), 4);
    assert!(
        payments.iter().all(|p| p.status == PaymentStatus::Failed),
        "no payment left pending"
    );
    let metrics = service.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("atlantic_paystack_requests_total")
                && l.contains("outcome=\"circuit_open\"")),
        "the fourth attempt failed fast:\n{metrics}"
    );
    let page = browser.get("/billing").await.text().await.unwrap();
    assert!(
        page.contains("id=\"paystack-down\""),
        "the page says checkout is paused"
    );
    assert_eq!(subscription_count(db.db(), email).await, 0);
    service.stop().await.expect("clean stop");
}
on_both_engines!(a_paystack_outage_opens_the_circuit_and_the_page_says_so);

async fn expiry_and_renewal_move_the_gateway(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let email = "eli@example.com";
    let browser = signed_in_customer(db.db(), &service, email).await;
    let (checkout, reference) = start_checkout(&browser, db.db(), "Starter").await;
    assert_eq!(
        finish(&browser, &checkout, true).await,
        "/billing?notice=paid"
    );
    assert_eq!(gateway_answer(&service, db.db(), email, "ok").await, "ok");

    // Thirty days and the grace later, unpaid: the period and its grace are in the past.
    let subscription = store::payments::by_reference(db.db(), &reference)
        .await
        .unwrap()
        .unwrap()
        .subscription_id
        .unwrap();
    let past = store::now_ms() - 1_000;
    sqlx::query(
        "UPDATE subscriptions SET period_start = $1, period_end = $2, grace_until = $2 \
         WHERE id = $3",
    )
    .bind(past - 30 * store::DAY_MS)
    .bind(past)
    .bind(subscription)
    .execute(db.db().pool())
    .await
    .unwrap();
    assert_eq!(
        gateway_answer(&service, db.db(), email, "quota_exceeded").await,
        "quota_exceeded",
        "expired: no plan"
    );

    // Renewing brings the plan back at once.
    let (checkout, _) = start_checkout(&browser, db.db(), "Starter").await;
    assert_eq!(
        finish(&browser, &checkout, true).await,
        "/billing?notice=paid"
    );
    assert_eq!(gateway_answer(&service, db.db(), email, "ok").await, "ok");
    service.stop().await.expect("clean stop");
}
on_both_engines!(expiry_and_renewal_move_the_gateway);
