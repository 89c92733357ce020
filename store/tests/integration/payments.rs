//! Payments, the webhook inbox, and activating a paid plan exactly once.

use store::payments::{self, NewPayment, PaymentOutcome, PaymentStatus, webhook_inbox};
use store::subscriptions::{self, SubscriptionStatus};
use store::test_support::TestDb;
use store::{AccountId, DAY_MS, Page, PlanId, StoreError, SubscriptionId, plans};

use crate::NOW;

pub fn payment<'a>(account: AccountId, plan: PlanId, reference: &'a str) -> NewPayment<'a> {
    NewPayment {
        account_id: account,
        plan_id: plan,
        reference,
        amount_minor: 500_000,
        currency: "ngn",
    }
}

on_both_engines!(payments_have_unique_references_and_settle_once);
async fn payments_have_unique_references_and_settle_once(t: &TestDb) {
    let db = t.db();
    let ada = crate::customer(db, "ada@example.com").await;
    let starter = plans::by_name(db, "Starter").await.unwrap().unwrap().id;

    let p1 = payments::create_pending(db, &payment(ada, starter, "ref-1"), NOW)
        .await
        .unwrap();
    assert_eq!(p1.status, PaymentStatus::Pending);
    assert_eq!((p1.amount_minor, p1.currency.as_str()), (500_000, "NGN"));
    assert_eq!(
        (p1.paid_at, p1.subscription_id, p1.paystack_transaction_id),
        (None, None, None)
    );

    let err = payments::create_pending(db, &payment(ada, starter, "ref-1"), NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("ref-1")),
        "{err:?}"
    );
    let err = payments::create_pending(db, &payment(ada, PlanId(9_999), "ref-x"), NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    for bad in [
        NewPayment {
            currency: "naira",
            ..payment(ada, starter, "ref-y")
        },
        NewPayment {
            amount_minor: -1,
            ..payment(ada, starter, "ref-y")
        },
        payment(ada, starter, " "),
    ] {
        let err = payments::create_pending(db, &bad, NOW).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{bad:?}: {err:?}");
    }

    let p2 = payments::create_pending(db, &payment(ada, starter, "ref-2"), NOW + 10)
        .await
        .unwrap();
    let p3 = payments::create_pending(db, &payment(ada, starter, "ref-3"), NOW + 20)
        .await
        .unwrap();
    let listed = payments::list_for_account(db, ada, Page::first(10))
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![p3.id, p2.id, p1.id]
    );
    let second_page = payments::list_for_account(db, ada, Page::new(2, 2))
        .await
        .unwrap();
    assert_eq!(
        second_page.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![p1.id]
    );
    assert_eq!(
        payments::by_reference(db, "ref-2").await.unwrap(),
        Some(p2.clone())
    );
    assert_eq!(payments::by_reference(db, "nope").await.unwrap(), None);

    let success = PaymentOutcome {
        status: PaymentStatus::Success,
        paystack_transaction_id: Some(4_099_260_516),
        channel: Some("card"),
        paid_at: Some(NOW + 30),
        failure_reason: None,
        authorization_code: None,
    };
    let settled = payments::settle(db, "ref-1", &success, NOW + 40)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(settled.status, PaymentStatus::Success);
    assert_eq!(settled.paystack_transaction_id, Some(4_099_260_516));
    assert_eq!(
        (
            settled.channel.as_deref(),
            settled.paid_at,
            settled.updated_at
        ),
        (Some("card"), Some(NOW + 30), NOW + 40)
    );
    // The webhook arrives after the callback: nothing left to do.
    assert_eq!(
        payments::settle(db, "ref-1", &success, NOW + 50)
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        payments::settle(db, "ref-404", &success, NOW).await,
        Err(StoreError::NotFound)
    ));
    let pending = PaymentOutcome {
        status: PaymentStatus::Pending,
        ..success.clone()
    };
    assert!(matches!(
        payments::settle(db, "ref-2", &pending, NOW).await,
        Err(StoreError::Invalid(_))
    ));
    let failed = PaymentOutcome {
        status: PaymentStatus::Failed,
        failure_reason: Some("Declined"),
        ..success
    };
    let p2 = payments::settle(db, "ref-2", &failed, NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (p2.status, p2.failure_reason.as_deref()),
        (PaymentStatus::Failed, Some("Declined"))
    );

    let sub = subscriptions::grant(db, ada, starter, 30, NOW)
        .await
        .unwrap();
    payments::link_subscription(db, settled.id, sub.id, NOW + 60)
        .await
        .unwrap();
    let linked = payments::by_reference(db, "ref-1").await.unwrap().unwrap();
    assert_eq!(linked.subscription_id, Some(sub.id));
    assert!(matches!(
        payments::link_subscription(db, settled.id, SubscriptionId(9_999), NOW).await,
        Err(StoreError::NotFound)
    ));

    payments::mark_refunded(db, settled.id, NOW + 70)
        .await
        .unwrap();
    assert_eq!(
        payments::by_reference(db, "ref-1")
            .await
            .unwrap()
            .unwrap()
            .status,
        PaymentStatus::Refunded
    );
    assert!(
        matches!(
            payments::mark_refunded(db, p3.id, NOW).await,
            Err(StoreError::NotFound)
        ),
        "only successes"
    );
}

on_both_engines!(webhook_events_are_deduplicated_and_retried);
async fn webhook_events_are_deduplicated_and_retried(t: &TestDb) {
    let db = t.db();
    let payload = r#"{"event":"charge.success","data":{"id":1}}"#;
    assert!(
        webhook_inbox::insert_if_new(db, "charge.success:1", "charge.success", payload, NOW)
            .await
            .unwrap()
    );
    assert!(
        !webhook_inbox::insert_if_new(db, "charge.success:1", "charge.success", payload, NOW + 1)
            .await
            .unwrap()
    );
    assert!(
        webhook_inbox::insert_if_new(db, "charge.success:2", "charge.success", payload, NOW + 2)
            .await
            .unwrap()
    );

    let event = webhook_inbox::event_by_key(db, "charge.success:1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (event.event.as_str(), event.payload.as_str()),
        ("charge.success", payload)
    );
    assert_eq!(
        (event.received_at, event.processed_at, event.attempts),
        (NOW, None, 0)
    );

    let todo = webhook_inbox::unprocessed(db, 3, 10).await.unwrap();
    assert_eq!(
        todo.iter()
            .map(|e| e.event_key.as_str())
            .collect::<Vec<_>>(),
        ["charge.success:1", "charge.success:2"]
    );

    webhook_inbox::mark_failed(db, "charge.success:1", "database busy")
        .await
        .unwrap();
    let event = webhook_inbox::event_by_key(db, "charge.success:1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (event.attempts, event.last_error.as_deref()),
        (1, Some("database busy"))
    );
    assert_eq!(
        webhook_inbox::unprocessed(db, 3, 10).await.unwrap().len(),
        2,
        "retried until max attempts"
    );
    assert_eq!(
        webhook_inbox::unprocessed(db, 1, 10).await.unwrap().len(),
        1,
        "given up after max attempts"
    );

    webhook_inbox::mark_processed(db, "charge.success:1", NOW + 5)
        .await
        .unwrap();
    let event = webhook_inbox::event_by_key(db, "charge.success:1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (event.processed_at, event.attempts, event.last_error),
        (Some(NOW + 5), 2, None)
    );
    let todo = webhook_inbox::unprocessed(db, 3, 10).await.unwrap();
    assert_eq!(
        todo.iter()
            .map(|e| e.event_key.as_str())
            .collect::<Vec<_>>(),
        ["charge.success:2"]
    );

    assert!(matches!(
        webhook_inbox::mark_processed(db, "nope", NOW).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        webhook_inbox::mark_failed(db, "nope", "x").await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(webhook_inbox::event_by_key(db, "nope").await.unwrap(), None);
}

pub fn paid<'a>() -> PaymentOutcome<'a> {
    PaymentOutcome {
        status: PaymentStatus::Success,
        paystack_transaction_id: Some(77),
        channel: Some("card"),
        paid_at: Some(NOW),
        failure_reason: None,
        authorization_code: None,
    }
}

pub async fn pending(db: &store::Db, account: AccountId, plan: &str, reference: &str) -> PlanId {
    let plan = plans::by_name(db, plan).await.unwrap().unwrap();
    payments::create_pending(
        db,
        &NewPayment {
            account_id: account,
            plan_id: plan.id,
            reference,
            amount_minor: plan.price_minor,
            currency: &plan.currency,
        },
        NOW,
    )
    .await
    .unwrap();
    plan.id
}

on_both_engines!(fulfil_activates_once_even_when_racing);
async fn fulfil_activates_once_even_when_racing(t: &TestDb) {
    let db = t.db();
    let ada = crate::customer(db, "ada@example.com").await;
    let starter = pending(db, ada, "Starter", "ref-race").await;

    // The callback and the webhook arrive together: eight concurrent attempts.
    let attempts = (0..8).map(|_| {
        let db = db.clone();
        async move { payments::fulfil(&db, "ref-race", &paid(), 30, NOW).await }
    });
    let results = futures_join_all(attempts).await;
    let winners: Vec<_> = results
        .into_iter()
        .filter_map(|r| r.expect("no error"))
        .filter_map(payments::Fulfilled::activated)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one activation");
    let (payment, subscription) = &winners[0];
    assert_eq!(payment.status, PaymentStatus::Success);
    assert_eq!(payment.subscription_id, Some(subscription.id));
    assert_eq!(subscription.plan_id, starter);
    assert_eq!(subscription.period_end, NOW + 30 * DAY_MS);
    assert_eq!(
        subscriptions::list_for_account(db, ada)
            .await
            .unwrap()
            .len(),
        1
    );

    // Replays later change nothing; unknown references are NotFound.
    assert_eq!(
        payments::fulfil(db, "ref-race", &paid(), 30, NOW + 5)
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        payments::fulfil(db, "ref-unknown", &paid(), 30, NOW).await,
        Err(StoreError::NotFound)
    ));
    // A payment settled as a mismatch never activates, not even by a later fulfil.
    pending(db, ada, "Team", "ref-mismatch").await;
    let mismatch = PaymentOutcome {
        status: PaymentStatus::Mismatch,
        failure_reason: Some("amount 1 != 15000000"),
        ..paid()
    };
    payments::settle(db, "ref-mismatch", &mismatch, NOW)
        .await
        .unwrap();
    assert_eq!(
        payments::fulfil(db, "ref-mismatch", &paid(), 30, NOW)
            .await
            .unwrap(),
        None
    );
    let current = subscriptions::current(db, ada, NOW + 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.plan_id, starter, "still the plan actually paid for");
}

on_both_engines!(renewal_carries_the_rest_and_upgrades_apply_at_once);
async fn renewal_carries_the_rest_and_upgrades_apply_at_once(t: &TestDb) {
    let db = t.db();
    let bea = crate::customer(db, "bea@example.com").await;
    pending(db, bea, "Starter", "ref-1").await;
    payments::fulfil(db, "ref-1", &paid(), 30, NOW)
        .await
        .unwrap()
        .unwrap();
    // Renewed ten days early: thirty new days plus the ten left.
    let later = NOW + 20 * DAY_MS;
    pending(db, bea, "Starter", "ref-2").await;
    let (_, renewed) = payments::fulfil(db, "ref-2", &paid(), 30, later)
        .await
        .unwrap()
        .unwrap()
        .activated()
        .unwrap();
    assert_eq!(renewed.period_start, later, "the quota period restarts");
    assert_eq!(renewed.period_end, later + 40 * DAY_MS);
    // An upgrade replaces the plan now, without carrying days of another plan.
    let team = pending(db, bea, "Team", "ref-3").await;
    let (_, upgraded) = payments::fulfil(db, "ref-3", &paid(), 30, later + 1)
        .await
        .unwrap()
        .unwrap()
        .activated()
        .unwrap();
    assert_eq!(upgraded.plan_id, team);
    assert_eq!(upgraded.period_end, later + 1 + 30 * DAY_MS);
    let live: Vec<_> = subscriptions::list_for_account(db, bea)
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.status == SubscriptionStatus::Active)
        .collect();
    assert_eq!(live.len(), 1, "one active subscription at a time");

    // Unpaid at the period's end: grace for a while, then no plan.
    assert_eq!(
        upgraded.grace_until,
        Some(upgraded.period_end + payments::GRACE_MS)
    );
    let after_period = upgraded.period_end + DAY_MS;
    assert!(
        subscriptions::current(db, bea, after_period)
            .await
            .unwrap()
            .is_some()
    );
    let moved = subscriptions::expire_due(db, after_period).await.unwrap();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].status, SubscriptionStatus::Grace);
    let after_grace = upgraded.period_end + payments::GRACE_MS;
    assert!(
        subscriptions::current(db, bea, after_grace)
            .await
            .unwrap()
            .is_none()
    );
    let moved = subscriptions::expire_due(db, after_grace).await.unwrap();
    assert_eq!(moved[0].status, SubscriptionStatus::Expired);
}

pub async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.expect("task"));
    }
    out
}
