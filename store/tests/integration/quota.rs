//! Quota warnings: due once the threshold is reached, once per period, never for unlimited
//! plans or a threshold of 0.

use store::test_support::TestDb;
use store::usage::{self, UsageDelta};
use store::{HOUR_MS, accounts, plans, quota, subscriptions};

use crate::NOW;

/// Starter's bandwidth (5 GB).
const STARTER: i64 = 5_000_000_000;

on_both_engines!(warnings_come_once_per_period_past_the_threshold);
async fn warnings_come_once_per_period_past_the_threshold(t: &TestDb) {
    let db = t.db();
    let ada = crate::customer(db, "ada@example.com").await;
    let bob = crate::customer(db, "bob@example.com").await;
    let starter = plans::by_name(db, "Starter").await.unwrap().unwrap();
    let unlimited = plans::by_name(db, "Unlimited").await.unwrap().unwrap();
    let sub = subscriptions::grant(db, ada, starter.id, 30, NOW)
        .await
        .unwrap();
    subscriptions::grant(db, bob, unlimited.id, 30, NOW)
        .await
        .unwrap();
    let later = NOW + HOUR_MS;

    // 79 % of the bandwidth: below the default 80 %.
    let use_bytes = |account, bytes| UsageDelta {
        bytes_down: bytes,
        ..UsageDelta::new(account, NOW)
    };
    usage::record(
        db,
        &[use_bytes(ada, STARTER * 79 / 100), use_bytes(bob, STARTER)],
    )
    .await
    .unwrap();
    assert!(quota::warnings_due(db, later).await.unwrap().is_empty());

    // One more percent reaches it; Bob's plan has no bandwidth limit.
    usage::record(db, &[use_bytes(ada, STARTER / 100)])
        .await
        .unwrap();
    let due = quota::warnings_due(db, later).await.unwrap();
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(due[0].account_id, ada);
    assert_eq!(due[0].period_end, sub.period_end);
    assert_eq!(due[0].percent_used(), 80);
    assert_eq!(due[0].threshold_percent, 80);

    assert!(quota::mark_warned(db, ada, sub.period_end).await.unwrap());
    assert!(
        !quota::mark_warned(db, ada, sub.period_end).await.unwrap(),
        "a second run does not warn again"
    );
    assert!(quota::warnings_due(db, later).await.unwrap().is_empty());

    // A new period warns again once past the threshold.
    let next = subscriptions::grant(db, ada, starter.id, 30, later)
        .await
        .unwrap();
    assert_ne!(next.period_end, sub.period_end);
    assert!(
        quota::warnings_due(db, later).await.unwrap().is_empty(),
        "the new period starts from zero"
    );
    let in_new_period = UsageDelta {
        bytes_down: STARTER * 80 / 100,
        ..UsageDelta::new(ada, later)
    };
    usage::record(db, &[in_new_period]).await.unwrap();
    assert_eq!(quota::warnings_due(db, later).await.unwrap().len(), 1);

    // A threshold of 0 turns warnings off.
    accounts::set_preferences(db, ada, "Africa/Lagos", 0, later)
        .await
        .unwrap();
    assert!(quota::warnings_due(db, later).await.unwrap().is_empty());
}
