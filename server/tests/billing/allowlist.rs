//! `ATLANTIC_PAYSTACK_WEBHOOK_IPS`: webhooks from elsewhere get 403 and nothing is stored; the
//! source is the client IP as the trusted reverse proxies report it, and a client cannot claim
//! a listed address itself. The signature is still required from a listed address.

use serde_json::json;

use crate::common::{self, Engine, Service, TestDb};
use crate::support::deliver;

/// Paystack's published webhook addresses.
const PAYSTACK_IPS: &str = "52.31.139.75,52.49.173.169,52.214.14.220";

async fn stored(db: &store::Db, key: &str) -> bool {
    store::payments::webhook_inbox::event_by_key(db, key)
        .await
        .unwrap()
        .is_some()
}

fn event(id: i64) -> serde_json::Value {
    json!({ "event": "invoice.create", "data": { "id": id } })
}

async fn only_listed_sources_may_deliver_webhooks(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    // Behind a reverse proxy on loopback, which reports the client in X-Forwarded-For.
    let service = Service::start_with(
        db.url(),
        &[
            ("ATLANTIC_PAYSTACK_WEBHOOK_IPS", PAYSTACK_IPS),
            ("ATLANTIC_TRUSTED_PROXIES", "127.0.0.1"),
        ],
    )
    .await;
    let direct = deliver(&service, &event(1), &[]).await;
    assert_eq!(direct.status(), 403, "loopback itself is not Paystack");
    let elsewhere = deliver(&service, &event(2), &[("x-forwarded-for", "203.0.113.9")]).await;
    assert_eq!(elsewhere.status(), 403);
    // A forged entry on the left does not help: the proxy appended the real address.
    let forged = deliver(
        &service,
        &event(3),
        &[("x-forwarded-for", "52.31.139.75, 203.0.113.9")],
    )
    .await;
    assert_eq!(forged.status(), 403);
    for key in ["invoice.create:1", "invoice.create:2", "invoice.create:3"] {
        assert!(!stored(db.db(), key).await, "{key}: refused before storing");
    }

    let paystack = deliver(&service, &event(4), &[("x-forwarded-for", "52.214.14.220")]).await;
    assert_eq!(paystack.status(), 200);
    assert!(stored(db.db(), "invoice.create:4").await);
    // A listed address still needs the signature.
    let unsigned = common::client()
        .post(format!("{}/webhooks/paystack", service.base))
        .header("x-forwarded-for", "52.31.139.75")
        .body(event(5).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    assert!(!stored(db.db(), "invoice.create:5").await);
    let metrics = service.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("atlantic_paystack_webhooks_total")
                && l.contains("outcome=\"bad_source\"")
                // exported at zero from the start: the refusal must have counted
                && l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) >= Some(1.0)),
        "{metrics}"
    );
    service.stop().await.expect("clean stop");

    // Without trusted proxies, X-Forwarded-For is the client's own claim: ignored.
    let exposed =
        Service::start_with(db.url(), &[("ATLANTIC_PAYSTACK_WEBHOOK_IPS", PAYSTACK_IPS)]).await;
    let claimed = deliver(&exposed, &event(6), &[("x-forwarded-for", "52.31.139.75")]).await;
    assert_eq!(claimed.status(), 403);
    assert!(!stored(db.db(), "invoice.create:6").await);
    exposed.stop().await.expect("clean stop");
}
on_both_engines!(only_listed_sources_may_deliver_webhooks);
