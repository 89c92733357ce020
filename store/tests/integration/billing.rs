//! Plans and subscriptions (payments and webhook events are in `payments.rs`).

use store::subscriptions::{self, PaystackDetails, SubscriptionStatus};
use store::test_support::TestDb;
use store::{AccountId, DAY_MS, PlanId, StoreError, SubscriptionId, plans};

use crate::NOW;

on_both_engines!(plans_are_seeded_and_found_by_name);
async fn plans_are_seeded_and_found_by_name(t: &TestDb) {
    let db = t.db();
    let all = plans::list(db).await.unwrap();
    let summary: Vec<_> = all
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.price_minor,
                p.requests_per_second,
                p.max_connections,
                p.bandwidth_bytes,
                p.for_sale,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("Starter", 500_000, 10, 50, Some(5_000_000_000), true),
            ("Personal", 2_000_000, 50, 200, Some(25_000_000_000), true),
            ("Team", 15_000_000, 500, 1000, Some(250_000_000_000), true),
            (
                "Enterprise",
                120_000_000,
                10_000,
                10_000,
                Some(2_500_000_000_000),
                true
            ),
            ("Unlimited", 0, 1_000_000, 100_000, None, false),
        ]
    );
    assert!(
        all.iter()
            .all(|p| p.currency == "NGN" && p.period_days == 30)
    );
    assert!(all.iter().all(|p| p.paystack_plan_code.is_none()));

    let for_sale = plans::for_sale(db).await.unwrap();
    assert_eq!(for_sale.len(), 4);
    assert!(for_sale.iter().all(|p| p.name != "Unlimited"));

    let starter = plans::by_name(db, " starter ").await.unwrap().unwrap();
    assert_eq!(starter, all[0]);
    assert_eq!(
        plans::by_name(db, "UNLIMITED").await.unwrap().unwrap(),
        all[4]
    );
    assert_eq!(plans::by_name(db, "Platinum").await.unwrap(), None);
    assert_eq!(
        plans::by_id(db, starter.id).await.unwrap(),
        Some(starter.clone())
    );
    assert_eq!(plans::by_id(db, PlanId(9_999)).await.unwrap(), None);

    plans::set_paystack_plan_code(db, starter.id, Some("PLN_abc"))
        .await
        .unwrap();
    let starter = plans::by_id(db, starter.id).await.unwrap().unwrap();
    assert_eq!(starter.paystack_plan_code.as_deref(), Some("PLN_abc"));
    assert!(matches!(
        plans::set_paystack_plan_code(db, PlanId(9_999), None).await,
        Err(StoreError::NotFound)
    ));

    // Names are unique regardless of case, on both engines.
    let err = sqlx::query(
        "INSERT INTO plans (name, price_minor, requests_per_second, max_connections) \
         VALUES ('STARTER', 1, 1, 1)",
    )
    .execute(db.pool())
    .await
    .unwrap_err();
    assert!(matches!(StoreError::from(err), StoreError::Conflict(_)));
}

on_both_engines!(grant_replaces_the_live_subscription);
async fn grant_replaces_the_live_subscription(t: &TestDb) {
    let db = t.db();
    let ada = crate::customer(db, "ada@example.com").await;
    let starter = plans::by_name(db, "Starter").await.unwrap().unwrap().id;
    let team = plans::by_name(db, "Team").await.unwrap().unwrap().id;
    assert_eq!(subscriptions::current(db, ada, NOW).await.unwrap(), None);
    assert_eq!(
        plans::current_for_account(db, ada, NOW).await.unwrap(),
        None
    );

    let first = subscriptions::grant(db, ada, starter, 30, NOW)
        .await
        .unwrap();
    assert_eq!(first.status, SubscriptionStatus::Active);
    assert_eq!(
        (first.period_start, first.period_end),
        (NOW, NOW + 30 * DAY_MS)
    );
    assert!(!first.cancel_at_period_end && first.grace_until.is_none());
    assert_eq!(
        subscriptions::current(db, ada, NOW + 1).await.unwrap(),
        Some(first.clone())
    );
    assert!(first.is_live(NOW) && !first.is_live(NOW + 30 * DAY_MS));

    let second = subscriptions::grant(db, ada, team, 7, NOW + DAY_MS)
        .await
        .unwrap();
    let current = subscriptions::current(db, ada, NOW + DAY_MS)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current, second);
    assert_eq!(current.plan_id, team);
    let plan = plans::current_for_account(db, ada, NOW + DAY_MS)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(plan.id, team, "the newest live subscription's plan");
    let history = subscriptions::list_for_account(db, ada).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].id, second.id, "newest first");
    assert_eq!(
        history[1].status,
        SubscriptionStatus::Cancelled,
        "the old one was replaced"
    );
    assert_eq!(history[1].updated_at, NOW + DAY_MS);

    // Time passes: current() goes by the clock, expire_due() then records it.
    let end = second.period_end;
    assert_eq!(subscriptions::current(db, ada, end).await.unwrap(), None);
    assert_eq!(
        plans::current_for_account(db, ada, end).await.unwrap(),
        None
    );
    assert!(
        subscriptions::expire_due(db, end - 1)
            .await
            .unwrap()
            .is_empty()
    );
    let expired = subscriptions::expire_due(db, end).await.unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(
        (expired[0].id, expired[0].status),
        (second.id, SubscriptionStatus::Expired)
    );
    assert!(
        subscriptions::expire_due(db, end + 1)
            .await
            .unwrap()
            .is_empty(),
        "only once"
    );

    for (account, plan, days, want_not_found) in [
        (ada, PlanId(9_999), 30, true),
        (AccountId(9_999), starter, 30, true),
        (ada, starter, 0, false),
        (ada, starter, 3651, false),
    ] {
        let err = subscriptions::grant(db, account, plan, days, NOW)
            .await
            .unwrap_err();
        if want_not_found {
            assert!(matches!(err, StoreError::NotFound), "{err:?}");
        } else {
            assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
        }
    }
}

on_both_engines!(grace_and_cancellation_at_period_end);
async fn grace_and_cancellation_at_period_end(t: &TestDb) {
    let db = t.db();
    let starter = plans::by_name(db, "Starter").await.unwrap().unwrap().id;
    let ada = crate::customer(db, "ada@example.com").await;
    let bob = crate::customer(db, "bob@example.com").await;
    let a = subscriptions::grant(db, ada, starter, 30, NOW)
        .await
        .unwrap();
    let b = subscriptions::grant(db, bob, starter, 30, NOW)
        .await
        .unwrap();
    let end = a.period_end;

    subscriptions::set_grace_until(db, a.id, Some(end + 3 * DAY_MS), NOW)
        .await
        .unwrap();
    subscriptions::set_cancel_at_period_end(db, b.id, true, NOW)
        .await
        .unwrap();
    assert!(
        subscriptions::current(db, bob, NOW)
            .await
            .unwrap()
            .unwrap()
            .cancel_at_period_end
    );

    let changed = subscriptions::expire_due(db, end).await.unwrap();
    let statuses: Vec<_> = changed.iter().map(|s| (s.id, s.status)).collect();
    assert_eq!(
        statuses,
        vec![
            (a.id, SubscriptionStatus::Grace),
            (b.id, SubscriptionStatus::Cancelled)
        ]
    );
    let in_grace = subscriptions::current(db, ada, end + DAY_MS)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(in_grace.status, SubscriptionStatus::Grace);
    assert_eq!(
        subscriptions::current(db, bob, end + DAY_MS).await.unwrap(),
        None
    );

    let changed = subscriptions::expire_due(db, end + 3 * DAY_MS)
        .await
        .unwrap();
    assert_eq!(
        changed.iter().map(|s| (s.id, s.status)).collect::<Vec<_>>(),
        vec![(a.id, SubscriptionStatus::Expired)]
    );
    assert_eq!(
        subscriptions::current(db, ada, end + 3 * DAY_MS)
            .await
            .unwrap(),
        None
    );

    for result in [
        subscriptions::set_grace_until(db, SubscriptionId(9_999), None, NOW).await,
        subscriptions::set_cancel_at_period_end(db, SubscriptionId(9_999), true, NOW).await,
        subscriptions::set_paystack_details(
            db,
            SubscriptionId(9_999),
            &PaystackDetails::default(),
            NOW,
        )
        .await,
    ] {
        assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    }
}

on_both_engines!(paystack_details_are_kept_and_unique);
async fn paystack_details_are_kept_and_unique(t: &TestDb) {
    let db = t.db();
    let starter = plans::by_name(db, "Starter").await.unwrap().unwrap().id;
    let ada = crate::customer(db, "ada@example.com").await;
    let bob = crate::customer(db, "bob@example.com").await;
    let a = subscriptions::grant(db, ada, starter, 30, NOW)
        .await
        .unwrap();
    let b = subscriptions::grant(db, bob, starter, 30, NOW)
        .await
        .unwrap();

    let details = PaystackDetails {
        subscription_code: Some("SUB_a"),
        email_token: Some("tok"),
        authorization_code: Some("AUTH_1"),
    };
    subscriptions::set_paystack_details(db, a.id, &details, NOW)
        .await
        .unwrap();
    // None keeps what is stored.
    let partial = PaystackDetails {
        authorization_code: Some("AUTH_2"),
        ..PaystackDetails::default()
    };
    subscriptions::set_paystack_details(db, a.id, &partial, NOW)
        .await
        .unwrap();
    let stored = subscriptions::by_paystack_code(db, "SUB_a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.id, a.id);
    assert_eq!(stored.paystack_email_token.as_deref(), Some("tok"));
    assert_eq!(stored.authorization_code.as_deref(), Some("AUTH_2"));
    assert_eq!(
        subscriptions::by_paystack_code(db, "SUB_x").await.unwrap(),
        None
    );

    let taken = PaystackDetails {
        subscription_code: Some("SUB_a"),
        ..PaystackDetails::default()
    };
    let err = subscriptions::set_paystack_details(db, b.id, &taken, NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}
