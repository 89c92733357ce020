//! Dunning through the real service: a declined renewal is tried again on day 1 and day 2 of
//! grace, each retry once however many services race and across a restart, told to the
//! customer (activity, and a banner on every page naming the next try); a retry that goes
//! through renews from the old period's end; with automatic renewal off nothing is retried.
//!
//! The clock is not moved: the period's end (and the attempts recorded for it) are moved back
//! in the database instead, as if the days had passed.

use store::payments::{Payment, PaymentStatus};
use store::subscriptions::SubscriptionStatus;
use store::{DAY_MS, SubscriptionId};

use crate::common::{self, Engine, Service, TestDb, location};
use crate::support::{
    current, decline_next_charge, end_period_at, paying_customer, payments_of, wait_for,
};

/// The account's renewal attempts, by attempt number.
async fn attempts(db: &store::Db, email: &str) -> Vec<Payment> {
    let mut found: Vec<Payment> = payments_of(db, email)
        .await
        .into_iter()
        .filter(|p| p.renewal_of.is_some())
        .collect();
    found.sort_by_key(|p| p.renewal_attempt);
    found
}

/// Waits until `email` has `n` renewal attempts, none pending; returns them.
async fn settled_attempts(db: &store::Db, email: &str, n: usize) -> Vec<Payment> {
    wait_for("settled renewal attempts", 15, || async {
        let found = attempts(db, email).await;
        (found.len() == n && found.iter().all(|p| p.status != PaymentStatus::Pending))
            .then_some(found)
    })
    .await
}

/// Moves the period of `subscription`, and the attempts recorded for it, to end at `end`
/// (grace after it) and to start thirty days before, as if time had passed.
async fn period_ended_at(db: &store::Db, subscription: SubscriptionId, end: i64) {
    sqlx::query("UPDATE payments SET renewal_period_end = $1 WHERE renewal_of = $2")
        .bind(end)
        .bind(subscription)
        .execute(db.pool())
        .await
        .unwrap();
    sqlx::query(
        "UPDATE subscriptions SET period_start = $1, period_end = $2, grace_until = $3 \
         WHERE id = $4",
    )
    .bind(end - 30 * DAY_MS)
    .bind(end)
    .bind(store::payments::grace_until(end))
    .bind(subscription)
    .execute(db.pool())
    .await
    .unwrap();
}

fn count(kinds: &[String], kind: &str) -> usize {
    kinds.iter().filter(|k| *k == kind).count()
}

async fn a_declined_renewal_is_retried_on_day_one_and_two_of_grace(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let other = Service::start(db.url()).await;
    let email = "dun@example.com";
    let browser = paying_customer(db.db(), &service, email).await;
    let paid = current(db.db(), email).await;
    assert!(
        !browser
            .get("/billing")
            .await
            .text()
            .await
            .unwrap()
            .contains("id=\"dunning-banner\""),
        "no banner while all is well"
    );

    // The renewal a day before the end is declined, and so is the first retry: whichever
    // service makes them, its double declines both.
    for _ in 0..2 {
        decline_next_charge(&service).await;
        decline_next_charge(&other).await;
    }
    end_period_at(db.db(), paid.id, store::now_ms() + 3_600_000).await;
    tokio::join!(service.housekeep(), other.housekeep());
    let first = settled_attempts(db.db(), email, 1).await;
    assert_eq!(first[0].status, PaymentStatus::Failed, "{first:?}");
    assert_eq!(first[0].renewal_attempt, 0);
    for page in ["/", "/usage", "/billing"] {
        let html = browser.get(page).await.text().await.unwrap();
        assert!(html.contains("id=\"dunning-banner\""), "{page}: the banner");
        assert!(
            html.contains("Your renewal payment failed — we will retry on"),
            "{page}"
        );
        assert!(
            html.contains("id=\"dunning-pay\""),
            "{page}: a way to pay on Billing"
        );
    }

    // A day after the end: the first retry, once, though two services race and one restarts.
    let end = store::now_ms() - DAY_MS - 60_000;
    period_ended_at(db.db(), paid.id, end).await;
    tokio::join!(service.housekeep(), other.housekeep());
    let retried = settled_attempts(db.db(), email, 2).await;
    assert_eq!(retried[1].renewal_attempt, 1);
    assert_eq!(retried[1].renewal_period_end, Some(end));
    assert_eq!(retried[1].status, PaymentStatus::Failed, "declined again");
    assert_eq!(
        current(db.db(), email).await.status,
        SubscriptionStatus::Grace,
        "still served, in grace"
    );
    other.stop().await.expect("clean stop");
    let restarted = Service::start(db.url()).await;
    tokio::join!(service.housekeep(), restarted.housekeep());
    assert_eq!(
        attempts(db.db(), email).await.len(),
        2,
        "one retry on day 1"
    );
    let kinds = common::activity_kinds(db.db(), email).await;
    assert_eq!(count(&kinds, "subscription.renewal_retry"), 1, "{kinds:?}");
    assert_eq!(count(&kinds, "subscription.renewal_failed"), 2, "{kinds:?}");

    // Two days after the end: the second retry, by the restarted service alone (its fresh
    // double declines nothing), goes through and renews from the old end.
    service.stop().await.expect("clean stop");
    let end = store::now_ms() - 2 * DAY_MS - 60_000;
    period_ended_at(db.db(), paid.id, end).await;
    restarted.housekeep().await;
    let all = settled_attempts(db.db(), email, 3).await;
    assert_eq!(all[2].renewal_attempt, 2);
    assert_eq!(all[2].status, PaymentStatus::Success, "{all:?}");
    let renewed = current(db.db(), email).await;
    assert_eq!(all[2].subscription_id, Some(renewed.id));
    assert_eq!(renewed.status, SubscriptionStatus::Active);
    assert_eq!(renewed.plan_id, paid.plan_id);
    assert_eq!(
        renewed.period_end,
        end + 30 * DAY_MS,
        "the same terms: thirty days from the old period's end"
    );
    assert_eq!(renewed.authorization_code, paid.authorization_code);
    restarted.housekeep().await;
    assert_eq!(attempts(db.db(), email).await.len(), 3, "nothing after");
    let kinds = common::activity_kinds(db.db(), email).await;
    assert_eq!(count(&kinds, "subscription.renewal_retry"), 2, "{kinds:?}");
    assert_eq!(count(&kinds, "subscription.renewed"), 1, "{kinds:?}");
    let browser = common::Browser::new(&restarted);
    browser.sign_in_customer(email).await;
    let html = browser.get("/billing").await.text().await.unwrap();
    assert!(
        !html.contains("id=\"dunning-banner\""),
        "paid: the banner is gone"
    );
    let metrics = restarted.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("atlantic_renewals_total") && l.contains("outcome=\"retried\"")),
        "{metrics}"
    );
    restarted.stop().await.expect("clean stop");
}
on_both_engines!(a_declined_renewal_is_retried_on_day_one_and_two_of_grace);

async fn with_renewal_off_a_declined_renewal_is_not_retried(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let email = "off@example.com";
    let browser = paying_customer(db.db(), &service, email).await;
    let paid = current(db.db(), email).await;
    decline_next_charge(&service).await;
    end_period_at(db.db(), paid.id, store::now_ms() + 3_600_000).await;
    service.housekeep().await;
    settled_attempts(db.db(), email, 1).await;

    let off = browser
        .post("/billing/auto-renew", &[("enabled", "off")])
        .await;
    assert_eq!(location(&off), "/billing?notice=auto_renew_off");
    for days in [1, 2] {
        let end = store::now_ms() - days * DAY_MS - 60_000;
        period_ended_at(db.db(), paid.id, end).await;
        service.housekeep().await;
        assert_eq!(
            attempts(db.db(), email).await.len(),
            1,
            "day {days}: no retry"
        );
    }
    let html = browser.get("/").await.text().await.unwrap();
    assert!(html.contains("id=\"dunning-banner\""), "still told");
    assert!(
        html.contains("will not be retried"),
        "and that no retry comes"
    );
    service.stop().await.expect("clean stop");
}
on_both_engines!(with_renewal_off_a_declined_renewal_is_not_retried);
