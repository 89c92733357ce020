//! Proration through the real service: switching plans mid-period credits the unused part of
//! what was paid, in whole kobo, on the Billing page before paying, in the amount Paystack is
//! asked for and the payment records, and in the customer's activity; a downgrade whose
//! credit covers the new price still pays Paystack's minimum; the same plan gets no credit.

use store::DAY_MS;
use store::payments::PaymentStatus;
use store::payments::proration::MIN_CHARGE_MINOR;

use crate::common::{Engine, Service, TestDb};
use crate::support::{
    account, current, finish, paying_customer, payments_of, plan_id, start_checkout,
    webhook_processed,
};

/// Puts the current period of `email` at `used` of `length` ms, as if that much had passed.
async fn period_used(db: &store::Db, email: &str, used: i64, length: i64) -> i64 {
    let sub = current(db, email).await;
    let start = store::now_ms() - used;
    sqlx::query(
        "UPDATE subscriptions SET period_start = $1, period_end = $2, grace_until = $3 \
         WHERE id = $4",
    )
    .bind(start)
    .bind(start + length)
    .bind(store::payments::grace_until(start + length))
    .bind(sub.id)
    .execute(db.pool())
    .await
    .unwrap();
    start + length
}

/// The credit for `paid` over a period ending at `end` of `length`, for some moment in
/// `between` (the checkout's own `now`, which the test cannot read).
fn credit_range(paid: i64, end: i64, length: i64, between: (i64, i64)) -> (i64, i64) {
    let at = |now: i64| {
        i64::try_from(i128::from(paid) * i128::from(end - now) / i128::from(length)).unwrap()
    };
    (at(between.1), at(between.0))
}

async fn a_switch_mid_period_credits_the_unused_part(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let email = "pro@example.com";
    let browser = paying_customer(db.db(), &service, email).await;
    let starter = current(db.db(), email).await;
    let length = 30 * DAY_MS;
    let before = store::now_ms();
    let end = period_used(db.db(), email, 10 * DAY_MS, length).await;

    // The page states the terms and what the switch costs, before paying.
    let page = browser.get("/billing").await.text().await.unwrap();
    assert!(
        page.contains("id=\"proration-terms\""),
        "the terms are stated"
    );
    assert!(page.contains("rounded down to the kobo"));
    let team = page
        .split("data-plan=\"team\"")
        .nth(1)
        .expect("a Team card")
        .split("</article>")
        .next()
        .unwrap()
        .to_owned();
    assert!(team.contains("data-credit-minor="), "{team}");
    assert!(team.contains("credit for the unused part"), "{team}");

    let (checkout, reference) = start_checkout(&browser, db.db(), "Team").await;
    let after = store::now_ms();
    let payment = store::payments::by_reference(db.db(), &reference)
        .await
        .unwrap()
        .unwrap();
    // Two thirds of ₦5,000 left: about ₦3,333.33, in whole kobo, rounded down.
    let (low, high) = credit_range(500_000, end, length, (before, after));
    assert!(
        (low..=high).contains(&payment.credit_minor),
        "{} not in {low}..={high}",
        payment.credit_minor
    );
    assert!(payment.credit_minor > 333_000 && payment.credit_minor <= 333_333);
    assert_eq!(
        payment.amount_minor + payment.credit_minor,
        15_000_000,
        "price = amount + credit, exactly"
    );
    let page_credit: i64 = team
        .split("data-credit-minor=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (page_credit - payment.credit_minor).abs() <= 10,
        "the page showed what was charged, to the second: {page_credit} vs {}",
        payment.credit_minor
    );
    assert_eq!(
        finish(&browser, &checkout, true).await,
        "/billing?notice=paid"
    );
    webhook_processed(db.db(), &reference).await;
    let paid = store::payments::by_reference(db.db(), &reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        paid.status,
        PaymentStatus::Success,
        "verify matched the reduced amount"
    );
    let now_team = current(db.db(), email).await;
    assert_ne!(now_team.id, starter.id);
    assert_eq!(
        now_team.plan_id.get().to_string(),
        plan_id(db.db(), "Team").await
    );
    assert!(
        now_team.period_end >= after + 30 * DAY_MS - 60_000,
        "a full period of the new plan"
    );
    let account = account(db.db(), email).await;
    let events = store::activity::list(
        db.db(),
        account.id,
        store::activity::KindFilter::ALL,
        store::Page::first(20),
    )
    .await
    .unwrap();
    let succeeded = events
        .iter()
        .find(|e| e.kind == "payment.succeeded" && e.detail["reference"] == reference.as_str())
        .expect("the payment in the activity");
    assert_eq!(
        succeeded.detail["credit_minor"], payment.credit_minor,
        "{}",
        succeeded.detail
    );
    let billing = browser.get("/billing").await.text().await.unwrap();
    assert!(billing.contains("credit)"), "the history shows the credit");

    // Back down to Starter a third into Team: the credit covers Starter, the minimum is paid.
    period_used(db.db(), email, 10 * DAY_MS, length).await;
    let (_, reference) = start_checkout(&browser, db.db(), "Starter").await;
    let down = store::payments::by_reference(db.db(), &reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        down.amount_minor, MIN_CHARGE_MINOR,
        "never below Paystack's minimum"
    );
    assert_eq!(down.credit_minor, 500_000 - MIN_CHARGE_MINOR);
    assert!(
        down.credit_minor <= paid.amount_minor,
        "never more than was paid"
    );

    // The same plan: no credit (the time left carries over instead).
    let (_, reference) = start_checkout(&browser, db.db(), "Team").await;
    let same = store::payments::by_reference(db.db(), &reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((same.credit_minor, same.amount_minor), (0, 15_000_000));
    assert_eq!(payments_of(db.db(), email).await.len(), 4);
    service.stop().await.expect("clean stop");
}
on_both_engines!(a_switch_mid_period_credits_the_unused_part);
