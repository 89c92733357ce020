//! Proxy credentials, allowlists and the gateway snapshot.

use store::allowlist::{self, AllowlistError, SourceRanges};
use store::credentials::{self, GatewayAccount};
use store::test_support::TestDb;
use store::usage::{self, UsageDelta};
use store::{AccountId, AllowlistEntryId, DAY_MS, HOUR_MS, StoreError, plans, subscriptions};

use crate::NOW;

on_both_engines!(credentials_are_generated_found_and_regenerated);
async fn credentials_are_generated_found_and_regenerated(t: &TestDb) {
    let db = t.db();
    let id = crate::customer(db, "ada@example.com").await;
    let creds = credentials::create(db, id, NOW).await.unwrap();
    assert_eq!(creds.account_id, id);
    assert_eq!(creds.username.len(), 10);
    assert!(creds.username.starts_with(|c: char| c.is_ascii_lowercase()));
    assert!(
        creds
            .username
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    );
    assert_eq!(creds.secret.len(), 24);
    assert!(creds.secret.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!((creds.created_at, creds.rotated_at), (NOW, NOW));

    let err = credentials::create(db, id, NOW).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "one set per account: {err:?}"
    );
    let err = credentials::create(db, AccountId(987_654), NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound),
        "unknown account: {err:?}"
    );

    assert_eq!(
        credentials::by_account(db, id).await.unwrap(),
        Some(creds.clone())
    );
    let upper = creds.username.to_uppercase();
    assert_eq!(
        credentials::by_username(db, &upper).await.unwrap(),
        Some(creds.clone())
    );
    assert_eq!(credentials::by_username(db, "nobody").await.unwrap(), None);

    let other = crate::customer(db, "bob@example.com").await;
    let bob = credentials::create(db, other, NOW).await.unwrap();
    assert_ne!(bob.username, creds.username);

    let rotated = credentials::regenerate(db, id, NOW + 1000).await.unwrap();
    assert_eq!(rotated.username, creds.username, "the username stays");
    assert_ne!(rotated.secret, creds.secret);
    assert_eq!((rotated.created_at, rotated.rotated_at), (NOW, NOW + 1000));
    assert_eq!(
        credentials::by_account(db, id).await.unwrap(),
        Some(rotated)
    );
    let lonely = crate::customer(db, "carol@example.com").await;
    assert!(matches!(
        credentials::regenerate(db, lonely, NOW).await,
        Err(StoreError::NotFound)
    ));
}

on_both_engines!(allowlist_validates_and_scopes_entries);
async fn allowlist_validates_and_scopes_entries(t: &TestDb) {
    let db = t.db();
    let ada = crate::customer(db, "ada@example.com").await;
    let bob = crate::customer(db, "bob@example.com").await;
    let add = |account, cidr: &'static str, note: &'static str| {
        allowlist::add(db, account, cidr, note, SourceRanges::PublicOnly, NOW)
    };

    let net = add(ada, "198.51.100.3/24", " office ").await.unwrap();
    assert_eq!(net.cidr.to_string(), "198.51.100.0/24");
    assert_eq!(net.note, "office");
    let host = add(ada, "2001:db8::7", "").await.unwrap();
    assert_eq!(host.cidr.to_string(), "2001:db8::7/128");

    let err = add(ada, "198.51.100.9/24", "").await.unwrap_err();
    assert!(
        matches!(err, AllowlistError::Duplicate(_)),
        "same network after canonicalising: {err:?}"
    );
    for junk in ["", "10.0.0.0/33", "example.com", "1.2.3"] {
        let err = add(ada, junk, "").await.unwrap_err();
        assert!(
            matches!(err, AllowlistError::NotAnAddress(_)),
            "{junk:?}: {err:?}"
        );
    }
    // Too wide: anyone at that provider could use the account.
    for wide in ["0.0.0.0/0", "203.0.0.0/8", "::/0", "2001:db8::/32"] {
        let err = add(ada, wide, "").await.unwrap_err();
        assert!(
            matches!(err, AllowlistError::TooWide { .. }),
            "{wide:?}: {err:?}"
        );
    }
    let long = "x".repeat(201);
    let err = allowlist::add(db, ada, "1.1.1.1", &long, SourceRanges::PublicOnly, NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, AllowlistError::NoteTooLong), "{err:?}");
    let bobs = add(bob, "192.0.2.0/24", "").await.unwrap();
    let err = add(AccountId(55_555), "203.0.113.0/24", "")
        .await
        .unwrap_err();
    assert!(matches!(err, AllowlistError::NoAccount), "{err:?}");

    let list = allowlist::for_account(db, ada).await.unwrap();
    assert_eq!(list, vec![net.clone(), host.clone()]);

    let err = allowlist::remove(db, ada, bobs.id).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound),
        "cannot remove another account's entry"
    );
    allowlist::remove(db, ada, net.id).await.unwrap();
    assert!(matches!(
        allowlist::remove(db, ada, net.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        allowlist::remove(db, ada, AllowlistEntryId(0)).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(allowlist::for_account(db, ada).await.unwrap(), vec![host]);
    assert_eq!(allowlist::for_account(db, bob).await.unwrap(), vec![bobs]);
}

fn find(accounts: &[GatewayAccount], id: AccountId) -> &GatewayAccount {
    accounts.iter().find(|a| a.account_id == id).unwrap()
}

on_both_engines!(gateway_accounts_with_and_without_a_plan);
async fn gateway_accounts_with_and_without_a_plan(t: &TestDb) {
    let db = t.db();
    let starter = plans::by_name(db, "Starter").await.unwrap().unwrap();
    let unlimited = plans::by_name(db, "Unlimited").await.unwrap().unwrap();

    // Paying customer with an allowlist; the plan started mid-hour at NOW.
    let paying = crate::customer(db, "paying@example.com").await;
    let paying_creds = credentials::create(db, paying, NOW).await.unwrap();
    for cidr in ["192.0.2.0/24", "198.51.100.7"] {
        allowlist::add(db, paying, cidr, "", SourceRanges::PublicOnly, NOW)
            .await
            .unwrap();
    }
    let sub = subscriptions::grant(db, paying, starter.id, 30, NOW)
        .await
        .unwrap();
    // Without a plan yet.
    let free = crate::customer(db, "free@example.com").await;
    credentials::create(db, free, NOW).await.unwrap();
    // No credentials: the gateway never sees it.
    let silent = crate::customer(db, "silent@example.com").await;
    subscriptions::grant(db, silent, starter.id, 30, NOW)
        .await
        .unwrap();
    // Its plan ended yesterday.
    let lapsed = crate::customer(db, "lapsed@example.com").await;
    credentials::create(db, lapsed, NOW).await.unwrap();
    subscriptions::grant(db, lapsed, starter.id, 1, NOW - 2 * DAY_MS)
        .await
        .unwrap();
    // Unlimited plan, period ended but in grace for another day.
    let grace = crate::customer(db, "grace@example.com").await;
    credentials::create(db, grace, NOW).await.unwrap();
    let graced = subscriptions::grant(db, grace, unlimited.id, 1, NOW - 2 * DAY_MS)
        .await
        .unwrap();
    subscriptions::set_grace_until(db, graced.id, Some(NOW + DAY_MS), NOW)
        .await
        .unwrap();

    let big = 3 * (1_i64 << 32);
    let deltas = vec![
        // Same hour as the grant (10:00 bucket): counts.
        UsageDelta {
            bytes_up: 100,
            bytes_down: big,
            ..UsageDelta::new(paying, NOW - 60_000)
        },
        UsageDelta {
            bytes_up: 5,
            bytes_down: 7,
            ..UsageDelta::new(paying, NOW + 5 * HOUR_MS)
        },
        // The hour before the plan: does not count.
        UsageDelta {
            bytes_up: 1_000_000,
            ..UsageDelta::new(paying, NOW - HOUR_MS)
        },
        // After the period: does not count.
        UsageDelta {
            bytes_up: 1_000_000,
            ..UsageDelta::new(paying, sub.period_end + HOUR_MS)
        },
        UsageDelta {
            bytes_up: 9,
            ..UsageDelta::new(free, NOW)
        },
        UsageDelta {
            bytes_up: 11,
            bytes_down: 12,
            ..UsageDelta::new(grace, NOW - HOUR_MS)
        },
    ];
    usage::record(db, &deltas).await.unwrap();

    let accounts = credentials::gateway_accounts(db, NOW + 6 * HOUR_MS)
        .await
        .unwrap();
    assert_eq!(
        accounts.iter().map(|a| a.account_id).collect::<Vec<_>>(),
        vec![paying, free, lapsed, grace],
        "accounts with credentials, in id order"
    );

    let p = find(&accounts, paying);
    assert_eq!(
        (p.username.as_str(), p.secret.as_str()),
        (paying_creds.username.as_str(), paying_creds.secret.as_str())
    );
    assert_eq!(
        p.allowlist
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["192.0.2.0/24", "198.51.100.7/32"]
    );
    let plan = p.plan.as_ref().expect("paying account has a plan");
    assert_eq!(plan.plan_id, starter.id);
    assert_eq!(plan.name, "Starter");
    assert_eq!((plan.requests_per_second, plan.max_connections), (10, 50));
    assert_eq!(plan.bandwidth_bytes, Some(5_000_000_000));
    assert_eq!(
        (plan.period_start, plan.period_end),
        (NOW, NOW + 30 * DAY_MS)
    );
    assert_eq!(p.bytes_used, 100 + big + 5 + 7);

    let f = find(&accounts, free);
    assert!(f.plan.is_none());
    assert!(f.allowlist.is_empty());
    assert_eq!(f.bytes_used, 0, "no plan, no period");

    assert!(
        find(&accounts, lapsed).plan.is_none(),
        "ended plans do not count"
    );

    let g = find(&accounts, grace);
    let plan = g.plan.as_ref().expect("grace keeps the plan");
    assert_eq!(plan.bandwidth_bytes, None, "Unlimited");
    assert_eq!(g.bytes_used, 23);

    // After the grace deadline the plan is gone, even before expire_due runs.
    let later = credentials::gateway_accounts(db, NOW + 2 * DAY_MS)
        .await
        .unwrap();
    assert!(find(&later, grace).plan.is_none());
    assert!(find(&later, paying).plan.is_some());
}
