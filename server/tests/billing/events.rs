//! Paystack's subscription and invoice webhooks act on the customer's plan: a subscription is
//! linked, `not_renew` and `disable` turn automatic renewal off, a failed invoice is told to
//! the customer; events about nobody, and events we do not act on, are stored and
//! acknowledged.

use serde_json::json;

use crate::common::{self, Engine, Service, TestDb};
use crate::support::{current, deliver, event_processed, paying_customer};

async fn subscription_and_invoice_events_act_on_the_customer(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let email = "eve@example.com";
    let browser = paying_customer(db.db(), &service, email).await;
    let customer = json!({ "email": email, "customer_code": "CUS_eve" });

    // subscription.create: recorded on the customer's live subscription.
    let created = json!({
        "event": "subscription.create",
        "data": {
            "status": "active",
            "subscription_code": "SUB_eve",
            "email_token": "tok_eve",
            "amount": 500000,
            "plan": { "plan_code": "PLN_starter", "name": "Starter" },
            "customer": customer,
        }
    });
    assert_eq!(deliver(&service, &created, &[]).await.status(), 200);
    event_processed(db.db(), "subscription.create:SUB_eve").await;
    let linked = current(db.db(), email).await;
    assert_eq!(
        linked.paystack_subscription_code.as_deref(),
        Some("SUB_eve")
    );
    assert_eq!(linked.paystack_email_token.as_deref(), Some("tok_eve"));

    // About a customer unknown here: stored, acknowledged, nothing else.
    let stranger = json!({
        "event": "subscription.create",
        "data": { "subscription_code": "SUB_who", "customer": { "email": "who@example.com" } }
    });
    assert_eq!(deliver(&service, &stranger, &[]).await.status(), 200);
    event_processed(db.db(), "subscription.create:SUB_who").await;
    assert!(
        store::subscriptions::by_paystack_code(db.db(), "SUB_who")
            .await
            .unwrap()
            .is_none()
    );

    // not_renew: automatic renewal off, found by the subscription code alone.
    let not_renew = json!({
        "event": "subscription.not_renew",
        "data": { "status": "non-renewing", "subscription_code": "SUB_eve" }
    });
    assert_eq!(deliver(&service, &not_renew, &[]).await.status(), 200);
    event_processed(db.db(), "subscription.not_renew:SUB_eve").await;
    assert!(!current(db.db(), email).await.auto_renew);

    // The customer turns it back on; Paystack then disables the subscription: off again.
    let on = browser
        .post("/billing/auto-renew", &[("enabled", "on")])
        .await;
    assert_eq!(common::location(&on), "/billing?notice=auto_renew_on");
    assert!(current(db.db(), email).await.auto_renew);
    let disabled = json!({
        "event": "subscription.disable",
        "data": { "status": "complete", "subscription_code": "SUB_eve", "customer": customer }
    });
    assert_eq!(deliver(&service, &disabled, &[]).await.status(), 200);
    event_processed(db.db(), "subscription.disable:SUB_eve").await;
    assert!(!current(db.db(), email).await.auto_renew);

    // A failed invoice is told to the customer; the plan itself carries on until its end.
    let invoice = json!({
        "event": "invoice.payment_failed",
        "data": {
            "invoice_code": "INV_eve_1",
            "amount": 500000,
            "paid": false,
            "description": "Insufficient funds",
            "subscription": { "subscription_code": "SUB_eve" },
            "customer": customer,
        }
    });
    assert_eq!(deliver(&service, &invoice, &[]).await.status(), 200);
    event_processed(db.db(), "invoice.payment_failed:INV_eve_1").await;
    assert_eq!(
        current(db.db(), email).await.id,
        linked.id,
        "still the paid period"
    );

    // Events we do not act on are kept and acknowledged.
    let dispute = json!({ "event": "charge.dispute.create", "data": { "id": 4242 } });
    assert_eq!(deliver(&service, &dispute, &[]).await.status(), 200);
    event_processed(db.db(), "charge.dispute.create:4242").await;

    let kinds = common::activity_kinds(db.db(), email).await;
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "subscription.auto_renew_off")
            .count(),
        2,
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"subscription.payment_failed".to_owned()),
        "{kinds:?}"
    );
    service.stop().await.expect("clean stop");
}
on_both_engines!(subscription_and_invoice_events_act_on_the_customer);
