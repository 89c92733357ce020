//! Personal access tokens: created with a value shown once, stored as a hash, listed,
//! revoked, expired, and their uses noted at most once an hour.

use store::api_tokens::{self, Scope};
use store::test_support::TestDb;
use store::{HOUR_MS, StoreError};

use crate::NOW;

on_both_engines!(tokens_authenticate_until_revoked_or_expired);
async fn tokens_authenticate_until_revoked_or_expired(t: &TestDb) {
    let db = t.db();
    let ada = crate::customer(db, "ada@example.com").await;
    let bob = crate::customer(db, "bob@example.com").await;

    let (ci, value) = api_tokens::create(db, ada, "  CI  ", Scope::Read, None, NOW)
        .await
        .unwrap();
    assert_eq!(ci.name, "CI");
    assert_eq!(ci.scope, Scope::Read);
    assert!(
        value.starts_with("atl_") && value.ends_with(&ci.last4),
        "{value}"
    );
    // Only the hash is stored: the value is nowhere in the table.
    let stored: Vec<(String, String)> = sqlx::query_as("SELECT token_hash, last4 FROM api_tokens")
        .fetch_all(db.pool())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].0, api_tokens::hash(&value));
    assert!(!stored[0].0.contains(&value[4..]));

    let found = api_tokens::authenticate(db, &value, NOW + 1).await.unwrap();
    assert_eq!(found.as_ref().map(|t| t.id), Some(ci.id));
    assert_eq!(found.map(|t| t.account_id), Some(ada));
    for wrong in [
        "",
        "atl_",
        "Bearer x",
        &value.to_uppercase(),
        &value[..value.len() - 1],
    ] {
        assert_eq!(
            api_tokens::authenticate(db, wrong, NOW).await.unwrap(),
            None
        );
    }
    let other = format!("atl_{}", "0".repeat(64));
    assert_eq!(
        api_tokens::authenticate(db, &other, NOW).await.unwrap(),
        None
    );

    // Expiry: works until the instant, not at it.
    let (deploy, deploy_value) = api_tokens::create(
        db,
        ada,
        "deploy",
        Scope::ReadWrite,
        Some(NOW + HOUR_MS),
        NOW,
    )
    .await
    .unwrap();
    assert!(
        api_tokens::authenticate(db, &deploy_value, NOW + HOUR_MS - 1)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        api_tokens::authenticate(db, &deploy_value, NOW + HOUR_MS)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!deploy.is_active(NOW + HOUR_MS));

    // Newest first; another account sees none of them and cannot revoke them.
    let listed = api_tokens::list(db, ada).await.unwrap();
    assert_eq!(
        listed.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["deploy", "CI"]
    );
    assert!(api_tokens::list(db, bob).await.unwrap().is_empty());
    assert!(matches!(
        api_tokens::revoke(db, bob, ci.id, NOW).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        api_tokens::authenticate(db, &value, NOW)
            .await
            .unwrap()
            .is_some()
    );

    // Revoked: refused at once, gone from the list, not revoked twice.
    let revoked = api_tokens::revoke(db, ada, ci.id, NOW + 5).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(NOW + 5));
    assert!(
        api_tokens::authenticate(db, &value, NOW + 6)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(api_tokens::list(db, ada).await.unwrap().len(), 1);
    assert!(matches!(
        api_tokens::revoke(db, ada, ci.id, NOW + 7).await,
        Err(StoreError::NotFound)
    ));
}

on_both_engines!(names_expiries_and_the_per_account_cap_are_checked);
async fn names_expiries_and_the_per_account_cap_are_checked(t: &TestDb) {
    let db = t.db();
    let ada = crate::customer(db, "ada@example.com").await;
    for name in ["", "   ", &"x".repeat(101)] {
        assert!(matches!(
            api_tokens::create(db, ada, name, Scope::Read, None, NOW).await,
            Err(StoreError::Invalid(_))
        ));
    }
    assert!(matches!(
        api_tokens::create(db, ada, "past", Scope::Read, Some(NOW), NOW).await,
        Err(StoreError::Invalid(_))
    ));
    let mut first = None;
    for n in 0..api_tokens::MAX_PER_ACCOUNT {
        let (token, _) = api_tokens::create(db, ada, &format!("t{n}"), Scope::Read, None, NOW)
            .await
            .unwrap();
        first.get_or_insert(token.id);
    }
    assert!(matches!(
        api_tokens::create(db, ada, "one too many", Scope::Read, None, NOW).await,
        Err(StoreError::Invalid(_))
    ));
    api_tokens::revoke(db, ada, first.unwrap(), NOW)
        .await
        .unwrap();
    api_tokens::create(db, ada, "room again", Scope::Read, None, NOW)
        .await
        .unwrap();
    // An account that does not exist.
    assert!(matches!(
        api_tokens::create(db, store::AccountId(9_999), "x", Scope::Read, None, NOW).await,
        Err(StoreError::NotFound)
    ));
}

on_both_engines!(a_use_is_noted_at_most_once_an_hour);
async fn a_use_is_noted_at_most_once_an_hour(t: &TestDb) {
    let db = t.db();
    let ada = crate::customer(db, "ada@example.com").await;
    let (token, _) = api_tokens::create(db, ada, "script", Scope::Read, None, NOW)
        .await
        .unwrap();
    assert!(api_tokens::note_use(db, token.id, NOW).await.unwrap());
    assert!(!api_tokens::note_use(db, token.id, NOW + 1).await.unwrap());
    assert!(
        !api_tokens::note_use(db, token.id, NOW + HOUR_MS - 1)
            .await
            .unwrap()
    );
    assert!(
        api_tokens::note_use(db, token.id, NOW + HOUR_MS)
            .await
            .unwrap()
    );
    let listed = api_tokens::list(db, ada).await.unwrap();
    assert_eq!(listed[0].last_used_at, Some(NOW + HOUR_MS));
}
