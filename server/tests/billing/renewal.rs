//! Automatic renewal through the real service and the double's `charge_authorization`: a due
//! period is renewed once (two services racing on one database, replays, later runs), by the
//! saved card, on the same terms; a declined charge is recorded once, told to the customer,
//! and the account goes into grace at the period's end, across a restart too.

use store::payments::PaymentStatus;
use store::subscriptions::SubscriptionStatus;

use crate::common::{self, Engine, Service, TestDb, location};
use crate::support::{
    current, decline_next_charge, end_period_at, paying_customer, payments_of, wait_for,
    webhook_processed,
};

/// The renewal payment of `email` once it is no longer pending.
async fn settled_renewal(db: &store::Db, email: &str) -> store::payments::Payment {
    wait_for("a settled renewal", 15, || async {
        payments_of(db, email)
            .await
            .into_iter()
            .find(|p| p.renewal_of.is_some() && p.status != PaymentStatus::Pending)
    })
    .await
}

async fn renewals_of(db: &store::Db, email: &str) -> usize {
    payments_of(db, email)
        .await
        .iter()
        .filter(|p| p.renewal_of.is_some())
        .count()
}

async fn a_due_period_is_renewed_once_with_the_saved_card(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let email = "rena@example.com";
    let browser = paying_customer(db.db(), &service, email).await;
    let paid = current(db.db(), email).await;
    let card = paid
        .authorization_code
        .clone()
        .expect("the checkout saved the card");
    assert!(card.starts_with("AUTH_"), "{card}");
    assert!(paid.auto_renew);
    let page = browser.get("/billing").await.text().await.unwrap();
    assert!(page.contains("data-auto-renew=\"on\""), "the page shows it");

    // A second service on the same database: two housekeepers race for the renewal.
    let other = Service::start(db.url()).await;
    let period_end = store::now_ms() + 3_600_000;
    end_period_at(db.db(), paid.id, period_end).await;
    tokio::join!(service.housekeep(), other.housekeep());

    let renewal = settled_renewal(db.db(), email).await;
    assert_eq!(renewal.status, PaymentStatus::Success, "{renewal:?}");
    assert_eq!(renewal.renewal_of, Some(paid.id));
    assert_eq!(renewal.renewal_period_end, Some(period_end));
    assert_eq!(
        (renewal.amount_minor, renewal.currency.as_str()),
        (500_000, "NGN")
    );
    let renewed = current(db.db(), email).await;
    assert_eq!(renewal.subscription_id, Some(renewed.id));
    assert_eq!(renewed.plan_id, paid.plan_id);
    assert_eq!(
        renewed.period_end,
        period_end + 30 * store::DAY_MS,
        "thirty days after the renewed period, the hour left kept"
    );
    assert_eq!(renewed.authorization_code.as_deref(), Some(card.as_str()));
    assert!(renewed.auto_renew, "the setting carries over");

    // The charge's webhook, a replayed callback and later runs change nothing.
    webhook_processed(db.db(), &renewal.reference).await;
    let again = browser
        .get(&format!(
            "/billing/callback?reference={}",
            renewal.reference
        ))
        .await;
    assert_eq!(location(&again), "/billing?notice=paid");
    tokio::join!(service.housekeep(), other.housekeep());
    service.housekeep().await;
    assert_eq!(
        renewals_of(db.db(), email).await,
        1,
        "one attempt, one charge"
    );
    assert_eq!(
        crate::support::subscription_count(db.db(), email).await,
        2,
        "credited once"
    );
    assert_eq!(current(db.db(), email).await.period_end, renewed.period_end);
    let kinds = common::activity_kinds(db.db(), email).await;
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "subscription.renewed")
            .count(),
        1,
        "{kinds:?}"
    );
    let metrics = service.get("/metrics").await.text().await.unwrap()
        + &other.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("atlantic_paystack_requests_total")
                && l.contains("op=\"charge_authorization\"")
                && l.contains("outcome=\"ok\"")),
        "{metrics}"
    );
    other.stop().await.expect("clean stop");
    service.stop().await.expect("clean stop");
}
on_both_engines!(a_due_period_is_renewed_once_with_the_saved_card);

async fn a_declined_renewal_is_tried_once_and_ends_in_grace(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let email = "dex@example.com";
    paying_customer(db.db(), &service, email).await;
    let paid = current(db.db(), email).await;
    decline_next_charge(&service).await;
    // Due now, and over in a few seconds: the declined period runs out into grace.
    let period_end = store::now_ms() + 4_000;
    end_period_at(db.db(), paid.id, period_end).await;
    service.housekeep().await;

    let renewal = settled_renewal(db.db(), email).await;
    assert_eq!(renewal.status, PaymentStatus::Failed, "{renewal:?}");
    assert_eq!(renewal.failure_reason.as_deref(), Some("declined"));
    assert_eq!(renewal.subscription_id, None, "nothing credited");
    // The period's own end is wall-clock time: housekeeping moves it into grace after that.
    let in_grace = wait_for("grace", 15, || async {
        service.housekeep().await;
        let sub = current(db.db(), email).await;
        (sub.status == SubscriptionStatus::Grace).then_some(sub)
    })
    .await;
    assert_eq!(in_grace.id, paid.id, "the same subscription, not renewed");
    assert_eq!(in_grace.period_end, period_end);
    let kinds = common::activity_kinds(db.db(), email).await;
    assert!(
        kinds.contains(&"subscription.renewal_failed".to_owned()),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"subscription.grace".to_owned()),
        "{kinds:?}"
    );

    // Still in grace and on the same period: later runs, and a restart whose fresh double
    // would approve a charge, attempt nothing more.
    service.housekeep().await;
    service.stop().await.expect("clean stop");
    let restarted = Service::start(db.url()).await;
    restarted.housekeep().await;
    assert_eq!(
        renewals_of(db.db(), email).await,
        1,
        "one attempt until the first retry is due, a day after the period's end (see dunning)"
    );
    assert_eq!(
        current(db.db(), email).await.status,
        SubscriptionStatus::Grace
    );
    restarted.stop().await.expect("clean stop");
}
on_both_engines!(a_declined_renewal_is_tried_once_and_ends_in_grace);

async fn renewal_waits_for_the_customers_switch(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let email = "sam@example.com";
    let browser = paying_customer(db.db(), &service, email).await;
    let paid = current(db.db(), email).await;

    // Turned off on the Billing page (a same-origin form post; a cross-site one is refused).
    let forged = browser
        .post_from(
            "/billing/auto-renew",
            &[("enabled", "on")],
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(forged.status(), 403);
    let off = browser
        .post("/billing/auto-renew", &[("enabled", "off")])
        .await;
    assert_eq!(location(&off), "/billing?notice=auto_renew_off");
    assert!(!current(db.db(), email).await.auto_renew);
    let page = browser.get("/billing").await.text().await.unwrap();
    assert!(page.contains("data-auto-renew=\"off\""));
    let junk = browser
        .post("/billing/auto-renew", &[("enabled", "maybe")])
        .await;
    assert_eq!(location(&junk), "/billing?error=auto_renew");

    end_period_at(db.db(), paid.id, store::now_ms() + 3_600_000).await;
    service.housekeep().await;
    assert_eq!(renewals_of(db.db(), email).await, 0, "off: never charged");

    let on = browser
        .post("/billing/auto-renew", &[("enabled", "on")])
        .await;
    assert_eq!(location(&on), "/billing?notice=auto_renew_on");
    service.housekeep().await;
    let renewal = settled_renewal(db.db(), email).await;
    assert_eq!(renewal.status, PaymentStatus::Success);
    let kinds = common::activity_kinds(db.db(), email).await;
    for kind in ["subscription.auto_renew_off", "subscription.auto_renew_on"] {
        assert!(kinds.contains(&kind.to_owned()), "{kind}: {kinds:?}");
    }
    service.stop().await.expect("clean stop");
}
on_both_engines!(renewal_waits_for_the_customers_switch);
