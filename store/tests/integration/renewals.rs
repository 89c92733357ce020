//! Automatic renewal in the store: which subscriptions are due, one attempt per period however
//! many runs race, the customer's setting carried across periods, and the saved card.

use store::payments::{self, NewPayment, PaymentOutcome, PaymentStatus};
use store::payments::{refunds, renewal_attempts};
use store::subscriptions::{self, PaystackDetails};
use store::test_support::TestDb;
use store::{AccountId, DAY_MS, Db, PlanId, StoreError, plans};

use crate::NOW;
use crate::payments::{futures_join_all, paid, pending};

/// A paid Starter period for a new customer, with a saved card unless `card` is None.
async fn paid_customer(db: &Db, email: &str, card: Option<&str>) -> (AccountId, PlanId) {
    let account = crate::customer(db, email).await;
    let reference = format!("ref-{email}");
    let plan = pending(db, account, "Starter", &reference).await;
    let outcome = PaymentOutcome {
        authorization_code: card,
        ..paid()
    };
    payments::fulfil(db, &reference, &outcome, 30, NOW)
        .await
        .unwrap()
        .unwrap();
    (account, plan)
}

fn attempt<'a>(account: AccountId, plan: PlanId, reference: &'a str) -> NewPayment<'a> {
    NewPayment {
        account_id: account,
        plan_id: plan,
        reference,
        amount_minor: 500_000,
        currency: "NGN",
    }
}

on_both_engines!(due_are_live_periods_ending_soon_with_a_card_and_renewal_on);
async fn due_are_live_periods_ending_soon_with_a_card_and_renewal_on(t: &TestDb) {
    let db = t.db();
    let (ada, _) = paid_customer(db, "ada@example.com", Some("AUTH_ada")).await;
    paid_customer(db, "bob@example.com", None).await;
    let (cy, _) = paid_customer(db, "cy@example.com", Some("AUTH_cy")).await;
    let (dee, _) = paid_customer(db, "dee@example.com", Some("AUTH_dee")).await;
    let end = NOW + 30 * DAY_MS;
    let ada_sub = subscriptions::current(db, ada, NOW).await.unwrap().unwrap();
    assert_eq!(ada_sub.authorization_code.as_deref(), Some("AUTH_ada"));
    assert!(ada_sub.auto_renew, "on unless the customer turns it off");

    subscriptions::set_auto_renew(db, cy, false, NOW)
        .await
        .unwrap()
        .unwrap();
    let dee_sub = subscriptions::current(db, dee, NOW).await.unwrap().unwrap();
    subscriptions::set_cancel_at_period_end(db, dee_sub.id, true, NOW)
        .await
        .unwrap();

    let ids = |subs: Vec<subscriptions::Subscription>| -> Vec<AccountId> {
        subs.into_iter().map(|s| s.account_id).collect()
    };
    // A day before the end: only Ada (Bob has no card, Cy turned it off, Dee cancels).
    let day_before = end - DAY_MS;
    assert!(
        renewal_attempts::due(
            db,
            day_before - 1,
            day_before - 1 + DAY_MS - 1,
            i64::MAX,
            10
        )
        .await
        .unwrap()
        .is_empty(),
        "not yet"
    );
    assert_eq!(
        ids(renewal_attempts::due(db, day_before, end, i64::MAX, 10)
            .await
            .unwrap()),
        [ada]
    );
    // Still due in grace (the service was down at the time), not once the grace is over.
    assert_eq!(
        ids(
            renewal_attempts::due(db, end + DAY_MS, end + 2 * DAY_MS, i64::MAX, 10)
                .await
                .unwrap()
        ),
        [ada]
    );
    let after_grace = payments::grace_until(end);
    assert!(
        renewal_attempts::due(db, after_grace, after_grace + DAY_MS, i64::MAX, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Once this period's attempt is recorded, it is not due again.
    let first = renewal_attempts::record_attempt(
        db,
        &attempt(ada, ada_sub.plan_id, "renew-1"),
        ada_sub.id,
        end,
        day_before,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(first.status, PaymentStatus::Pending);
    assert_eq!(
        (first.renewal_of, first.renewal_period_end),
        (Some(ada_sub.id), Some(end))
    );
    assert!(
        renewal_attempts::due(db, day_before, end, i64::MAX, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

on_both_engines!(one_attempt_per_period_however_many_runs_race);
async fn one_attempt_per_period_however_many_runs_race(t: &TestDb) {
    let db = t.db();
    let (ada, plan) = paid_customer(db, "ada@example.com", Some("AUTH_ada")).await;
    let sub = subscriptions::current(db, ada, NOW).await.unwrap().unwrap();
    let at = sub.period_end - DAY_MS;

    // Eight housekeeping runs (several processes, or a restart mid-run) at once.
    let runs = (0..8).map(|i| {
        let db = db.clone();
        let sub = sub.clone();
        async move {
            let reference = format!("renew-{i}");
            renewal_attempts::record_attempt(
                &db,
                &attempt(ada, plan, &reference),
                sub.id,
                sub.period_end,
                at,
            )
            .await
        }
    });
    let recorded: Vec<_> = futures_join_all(runs)
        .await
        .into_iter()
        .filter_map(|r| r.expect("no error"))
        .collect();
    assert_eq!(recorded.len(), 1, "exactly one attempt for the period");
    // Later runs, after a restart too, find it recorded.
    assert_eq!(
        renewal_attempts::record_attempt(
            db,
            &attempt(ada, plan, "renew-late"),
            sub.id,
            sub.period_end,
            at + 60_000
        )
        .await
        .unwrap(),
        None
    );
    let listed = payments::list_for_account(db, ada, store::Page::first(20))
        .await
        .unwrap();
    assert_eq!(listed.iter().filter(|p| p.renewal_of.is_some()).count(), 1);

    // Pending attempts are listed for a later verify once old enough; checkouts are not.
    pending(db, ada, "Starter", "checkout-pending").await;
    assert!(
        renewal_attempts::pending(db, at, 10)
            .await
            .unwrap()
            .is_empty(),
        "too recent"
    );
    let stale = renewal_attempts::pending(db, at + 1, 10).await.unwrap();
    assert_eq!(
        stale
            .iter()
            .map(|p| p.reference.as_str())
            .collect::<Vec<_>>(),
        [recorded[0].reference.as_str()]
    );

    // Paid: the new period is another period, with its own attempt later.
    let (_, renewed) = payments::fulfil(db, &recorded[0].reference, &paid(), 30, at + 5)
        .await
        .unwrap()
        .unwrap()
        .activated()
        .unwrap();
    assert_eq!(
        renewed.period_end,
        sub.period_end + 30 * DAY_MS,
        "the day left is kept"
    );
    assert_eq!(
        renewed.authorization_code.as_deref(),
        Some("AUTH_ada"),
        "the card stays saved"
    );
    assert!(
        renewal_attempts::pending(db, at + DAY_MS, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let next = renewal_attempts::record_attempt(
        db,
        &attempt(ada, plan, "renew-next"),
        renewed.id,
        renewed.period_end,
        at + 10,
    )
    .await
    .unwrap();
    assert!(next.is_some(), "the next period gets its own attempt");

    // Bad input is refused before anything is written; unknown subscriptions are NotFound.
    let bad = NewPayment {
        currency: "naira",
        ..attempt(ada, plan, "renew-bad")
    };
    assert!(matches!(
        renewal_attempts::record_attempt(db, &bad, renewed.id, 1, at).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        renewal_attempts::record_attempt(
            db,
            &attempt(ada, plan, "renew-404"),
            store::SubscriptionId(9_999),
            1,
            at
        )
        .await,
        Err(StoreError::NotFound)
    ));
}

on_both_engines!(the_renewal_setting_and_card_carry_over_to_new_periods);
async fn the_renewal_setting_and_card_carry_over_to_new_periods(t: &TestDb) {
    let db = t.db();
    let (ada, _) = paid_customer(db, "ada@example.com", Some("AUTH_1")).await;
    let nobody = crate::customer(db, "nobody@example.com").await;
    assert_eq!(
        subscriptions::set_auto_renew(db, nobody, false, NOW)
            .await
            .unwrap(),
        None,
        "no live plan"
    );

    let off = subscriptions::set_auto_renew(db, ada, false, NOW + 1)
        .await
        .unwrap()
        .unwrap();
    assert!(!off.auto_renew);
    assert_eq!(off.updated_at, NOW + 1);

    // A manual renewal keeps the setting; a payment without a card keeps the saved one.
    pending(db, ada, "Starter", "ref-manual").await;
    let (_, second) = payments::fulfil(db, "ref-manual", &paid(), 30, NOW + DAY_MS)
        .await
        .unwrap()
        .unwrap()
        .activated()
        .unwrap();
    assert!(!second.auto_renew, "still off");
    assert_eq!(second.authorization_code.as_deref(), Some("AUTH_1"));

    // Turned on again, then an upgrade paid with another card: that card, still on.
    subscriptions::set_auto_renew(db, ada, true, NOW + DAY_MS)
        .await
        .unwrap()
        .unwrap();
    pending(db, ada, "Team", "ref-upgrade").await;
    let card = PaymentOutcome {
        authorization_code: Some("AUTH_2"),
        ..paid()
    };
    let (_, third) = payments::fulfil(db, "ref-upgrade", &card, 30, NOW + 2 * DAY_MS)
        .await
        .unwrap()
        .unwrap()
        .activated()
        .unwrap();
    assert!(third.auto_renew);
    assert_eq!(third.authorization_code.as_deref(), Some("AUTH_2"));

    // Another plan paid without a card does not inherit the card of the old plan.
    pending(db, ada, "Personal", "ref-transfer").await;
    let (_, fourth) = payments::fulfil(db, "ref-transfer", &paid(), 30, NOW + 3 * DAY_MS)
        .await
        .unwrap()
        .unwrap()
        .activated()
        .unwrap();
    assert_eq!(fourth.authorization_code, None);

    // The set-up that Paystack subscription events rely on: the code finds the account.
    let details = PaystackDetails {
        subscription_code: Some("SUB_ada"),
        ..PaystackDetails::default()
    };
    subscriptions::set_paystack_details(db, fourth.id, &details, NOW)
        .await
        .unwrap();
    let found = subscriptions::by_paystack_code(db, "SUB_ada")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.account_id, ada);
    let plan = plans::by_name(db, "Personal").await.unwrap().unwrap();
    assert_eq!(found.plan_id, plan.id);
}

on_both_engines!(a_renewal_racing_a_switch_is_superseded_whichever_settles_first);
async fn a_renewal_racing_a_switch_is_superseded_whichever_settles_first(t: &TestDb) {
    let db = t.db();
    let ids = |subs: Vec<subscriptions::Subscription>| -> Vec<AccountId> {
        subs.into_iter().map(|s| s.account_id).collect()
    };
    for round in 0..6 {
        let email = format!("race{round}@example.com");
        let (account, _) = paid_customer(db, &email, Some("AUTH_race")).await;
        let starter = subscriptions::current(db, account, NOW + 1)
            .await
            .unwrap()
            .unwrap();
        // The customer starts paying for Team; the renewal attempt is recorded after.
        let switch = format!("ref-switch-{round}");
        let team = pending(db, account, "Team", &switch).await;
        let due = |since| renewal_attempts::due(db, NOW + 1, starter.period_end, since, 10);
        assert!(
            !ids(due(NOW - 3_600_000).await.unwrap()).contains(&account),
            "a fresh checkout holds the renewal back"
        );
        assert!(ids(due(NOW + 1).await.unwrap()).contains(&account));
        assert!(!renewal_attempts::in_flight(db, account).await.unwrap());
        let renewal = format!("ref-renewal-{round}");
        renewal_attempts::record_attempt(
            db,
            &attempt(account, starter.plan_id, &renewal),
            starter.id,
            starter.period_end,
            NOW,
        )
        .await
        .unwrap()
        .unwrap();
        assert!(renewal_attempts::in_flight(db, account).await.unwrap());

        // Both are paid at once; the engine decides the order.
        let settle = |reference: String| {
            let db = db.clone();
            async move { payments::fulfil(&db, &reference, &paid(), 30, NOW + 5).await }
        };
        let results = futures_join_all([settle(switch.clone()), settle(renewal.clone())]).await;
        for result in &results {
            assert!(matches!(result, Ok(Some(_))), "{result:?}");
        }

        // Whichever went first: the customer is on Team, the renewal is owed back.
        let live = subscriptions::current(db, account, NOW + 6)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(live.plan_id, team, "round {round}");
        let live_count = subscriptions::list_for_account(db, account)
            .await
            .unwrap()
            .iter()
            .filter(|s| s.status == subscriptions::SubscriptionStatus::Active)
            .count();
        assert_eq!(live_count, 1, "round {round}");
        let by_ref = |reference: String| async move {
            payments::by_reference(db, &reference)
                .await
                .unwrap()
                .unwrap()
        };
        let paid_switch = by_ref(switch.clone()).await;
        assert_eq!(paid_switch.status, PaymentStatus::Success);
        assert_eq!(paid_switch.subscription_id, Some(live.id));
        let superseded = by_ref(renewal.clone()).await;
        assert_eq!(
            superseded.status,
            PaymentStatus::Superseded,
            "round {round}"
        );
        assert_eq!(
            superseded.failure_reason.as_deref(),
            Some(payments::SUPERSEDED_REASON)
        );
    }

    // The refunds owed: asked for once each, then refunded.
    let owed = refunds::owed(db, 50).await.unwrap();
    assert_eq!(owed.len(), 6);
    let first = &owed[0];
    assert!(
        refunds::mark_requested(db, first.id, NOW + 10)
            .await
            .unwrap()
    );
    assert!(
        !refunds::mark_requested(db, first.id, NOW + 11)
            .await
            .unwrap()
    );
    assert_eq!(refunds::owed(db, 50).await.unwrap().len(), 5);
    payments::mark_refunded(db, first.id, NOW + 12)
        .await
        .unwrap();
    let refunded = payments::by_reference(db, &first.reference)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refunded.status, PaymentStatus::Refunded);
    assert_eq!(refunded.refund_requested_at, Some(NOW + 10));
}

on_both_engines!(a_late_success_after_a_decline_or_abandonment_activates);
async fn a_late_success_after_a_decline_or_abandonment_activates(t: &TestDb) {
    let db = t.db();
    let ada = crate::customer(db, "late@example.com").await;
    for (reference, status) in [
        ("ref-failed", PaymentStatus::Failed),
        ("ref-abandoned", PaymentStatus::Abandoned),
    ] {
        pending(db, ada, "Starter", reference).await;
        let outcome = PaymentOutcome { status, ..paid() };
        payments::settle(db, reference, &outcome, NOW)
            .await
            .unwrap();
        let (payment, _) = payments::fulfil(db, reference, &paid(), 30, NOW + 1)
            .await
            .unwrap()
            .unwrap()
            .activated()
            .unwrap();
        assert_eq!(payment.status, PaymentStatus::Success);
    }
    // Settled outcomes stay settled: success, mismatch and refunds are final.
    assert_eq!(
        payments::fulfil(db, "ref-failed", &paid(), 30, NOW + 2)
            .await
            .unwrap(),
        None
    );
}
