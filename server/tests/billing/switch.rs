//! A switch of plans racing an automatic renewal, through the real service and the double:
//! whichever settles first, the customer ends on the plan they chose, the renewal's money is
//! refunded through Paystack (`POST /refund`, then `refund.processed`), and the customer is
//! told. A checkout waits while a renewal is being charged; a renewal waits while a fresh
//! checkout is pending. A checkout paid after a declined card still activates.

use serde_json::json;
use store::payments::{NewPayment, PaymentStatus};

use crate::common::{self, Engine, Service, TestDb, location};
use crate::support::{
    DOUBLE_KEY, current, end_period_at, finish, paying_customer, payment_status, payments_of,
    plan_id, start_checkout, wait_for,
};

/// Waits until the payment `reference` reaches `want`.
async fn reaches(db: &store::Db, reference: &str, want: PaymentStatus) {
    wait_for(&format!("{reference} {want:?}"), 15, || async {
        (payment_status(db, reference).await == want).then_some(())
    })
    .await;
}

/// What the double says of a transaction now.
async fn double_status(service: &Service, reference: &str) -> String {
    let answer: serde_json::Value = common::client()
        .get(format!(
            "{}/paystack-double/transaction/verify/{reference}",
            service.base
        ))
        .bearer_auth(DOUBLE_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["data"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Exactly one subscription of the account is live (active or grace).
async fn live_subscriptions(db: &store::Db, email: &str) -> usize {
    let account = crate::support::account(db, email).await;
    store::subscriptions::list_for_account(db, account.id)
        .await
        .unwrap()
        .iter()
        .filter(|s| {
            matches!(
                s.status,
                store::subscriptions::SubscriptionStatus::Active
                    | store::subscriptions::SubscriptionStatus::Grace
            )
        })
        .count()
}

async fn assert_refunded_and_told(service: &Service, db: &store::Db, email: &str, renewal: &str) {
    reaches(db, renewal, PaymentStatus::Refunded).await;
    assert_eq!(double_status(service, renewal).await, "reversed");
    // the refund's activity line is written just after its status: wait for it as well
    let told = |kinds: &[String]| {
        ["payment.superseded", "payment.refunded"]
            .iter()
            .all(|kind| kinds.iter().filter(|k| k == kind).count() == 1)
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut kinds = common::activity_kinds(db, email).await;
    while !told(&kinds) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        kinds = common::activity_kinds(db, email).await;
    }
    for kind in ["payment.superseded", "payment.refunded"] {
        assert_eq!(
            kinds.iter().filter(|k| *k == kind).count(),
            1,
            "{kind}: {kinds:?}"
        );
    }
    assert_eq!(live_subscriptions(db, email).await, 1);
}

/// The renewal is charged and credited first; the customer then pays the switch they had
/// started before it: the renewal is refunded, the new plan runs.
async fn a_renewal_credited_before_the_switch_is_refunded(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let email = "swen@example.com";
    let browser = paying_customer(db.db(), &service, email).await;
    let starter = current(db.db(), email).await;

    // The customer starts paying for Team; meanwhile the Starter period becomes due.
    let (checkout, switch) = start_checkout(&browser, db.db(), "Team").await;
    end_period_at(db.db(), starter.id, store::now_ms() + 3_600_000).await;
    service.housekeep().await;
    assert!(
        payments_of(db.db(), email)
            .await
            .iter()
            .all(|p| p.renewal_of.is_none()),
        "a fresh checkout holds the renewal back"
    );

    // An hour later the checkout still looks abandoned: the renewal goes ahead and is paid.
    sqlx::query("UPDATE payments SET created_at = created_at - 7200000 WHERE reference = $1")
        .bind(&switch)
        .execute(db.db().pool())
        .await
        .unwrap();
    let renewal = wait_for("the renewal", 15, || async {
        service.housekeep().await;
        payments_of(db.db(), email)
            .await
            .into_iter()
            .find(|p| p.renewal_of.is_some() && p.status == PaymentStatus::Success)
    })
    .await;
    assert_eq!(current(db.db(), email).await.plan_id, starter.plan_id);

    // Then the customer finishes paying for Team after all.
    assert_eq!(
        finish(&browser, &checkout, true).await,
        "/billing?notice=paid"
    );
    let team = plan_id(db.db(), "Team").await;
    assert_eq!(
        current(db.db(), email).await.plan_id.get().to_string(),
        team
    );
    assert_eq!(
        payment_status(db.db(), &switch).await,
        PaymentStatus::Success
    );
    assert_refunded_and_told(&service, db.db(), email, &renewal.reference).await;
    let page = browser.get("/billing").await.text().await.unwrap();
    assert!(page.contains("refunded"), "the history shows the refund");
    service.stop().await.expect("clean stop");
}
on_both_engines!(a_renewal_credited_before_the_switch_is_refunded);

/// The switch is paid while the renewal charge is still in flight; the charge then succeeds
/// (its `charge.success` webhook arrives): nothing is activated, the money goes back.
async fn a_renewal_settling_after_the_switch_is_refunded(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let email = "swan@example.com";
    let browser = paying_customer(db.db(), &service, email).await;
    let starter = current(db.db(), email).await;
    let account = crate::support::account(db.db(), email).await;

    // The customer opens a Team checkout, then the renewal attempt is recorded (as
    // housekeeping does before charging the card).
    let (checkout, switch) = start_checkout(&browser, db.db(), "Team").await;
    let starter_plan = store::plans::by_id(db.db(), starter.plan_id)
        .await
        .unwrap()
        .unwrap();
    let reference = format!("atl_{}_renewal_in_flight", account.id.get());
    let attempt = NewPayment {
        account_id: account.id,
        plan_id: starter.plan_id,
        reference: &reference,
        amount_minor: starter_plan.price_minor,
        currency: &starter_plan.currency,
    };
    store::payments::renewal_attempts::record_attempt(
        db.db(),
        &attempt,
        starter.id,
        starter.period_end,
        store::now_ms(),
    )
    .await
    .unwrap()
    .unwrap();

    // While it is in flight, a new checkout is refused with a reason…
    let refused = browser
        .post(
            "/billing/checkout",
            &[("plan", &plan_id(db.db(), "Personal").await)],
        )
        .await;
    assert_eq!(location(&refused), "/billing?error=renewing");
    let page = browser
        .get("/billing?error=renewing")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("being renewed"), "the page says why");

    // …but the one already open is paid: Team runs.
    assert_eq!(
        finish(&browser, &checkout, true).await,
        "/billing?notice=paid"
    );
    assert_eq!(
        payment_status(db.db(), &switch).await,
        PaymentStatus::Success
    );

    // Now the renewal's charge goes through at Paystack, and its webhook arrives.
    let charged = common::client()
        .post(format!(
            "{}/paystack-double/transaction/charge_authorization",
            service.base
        ))
        .bearer_auth(DOUBLE_KEY)
        .json(&json!({
            "email": email,
            "amount": starter_plan.price_minor,
            "authorization_code": starter.authorization_code.clone().unwrap(),
            "reference": reference,
            "currency": starter_plan.currency,
            "metadata": json!({
                "account_id": account.id.get(),
                "plan_id": starter.plan_id.get(),
                "renewal_of": starter.id.get(),
            }).to_string(),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(charged.status(), 200);
    assert_refunded_and_told(&service, db.db(), email, &reference).await;
    let team = plan_id(db.db(), "Team").await;
    assert_eq!(
        current(db.db(), email).await.plan_id.get().to_string(),
        team,
        "still the plan the customer chose"
    );
    let renewal = store::payments::by_reference(db.db(), &reference)
        .await
        .unwrap()
        .unwrap();
    assert!(renewal.refund_requested_at.is_some());

    // Had our record of the request been lost, housekeeping asks again; Paystack refuses a
    // second refund, and that is recorded once instead of asked every run.
    sqlx::query(
        "UPDATE payments SET status = 'superseded', refund_requested_at = NULL \
         WHERE reference = $1",
    )
    .bind(&reference)
    .execute(db.db().pool())
    .await
    .unwrap();
    wait_for("the refused refund recorded", 15, || async {
        service.housekeep().await;
        store::payments::by_reference(db.db(), &reference)
            .await
            .unwrap()
            .unwrap()
            .refund_requested_at
            .map(|_| ())
    })
    .await;
    let metrics = service.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("atlantic_payments_total") && l.contains("refund_refused")),
        "{metrics}"
    );
    service.stop().await.expect("clean stop");
}
on_both_engines!(a_renewal_settling_after_the_switch_is_refunded);

/// A declined card, then another try on the same checkout page: the late success activates.
async fn a_checkout_paid_after_a_decline_activates(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let email = "tryagain@example.com";
    let browser = crate::support::signed_in_customer(db.db(), &service, email).await;
    let (checkout, reference) = start_checkout(&browser, db.db(), "Starter").await;
    assert_eq!(
        finish(&browser, &checkout, false).await,
        "/billing?error=declined"
    );
    assert_eq!(
        payment_status(db.db(), &reference).await,
        PaymentStatus::Failed
    );
    assert_eq!(
        finish(&browser, &checkout, true).await,
        "/billing?notice=paid"
    );
    assert_eq!(
        payment_status(db.db(), &reference).await,
        PaymentStatus::Success
    );
    crate::support::webhook_processed(db.db(), &reference).await;
    assert_eq!(crate::support::subscription_count(db.db(), email).await, 1);
    service.stop().await.expect("clean stop");
}
on_both_engines!(a_checkout_paid_after_a_decline_activates);
