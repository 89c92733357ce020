//! Accounts, password hashes, 2FA and recovery codes.

use store::accounts::{self, Role};
use store::test_support::TestDb;
use store::{AccountId, Page, StoreError, credentials};

use crate::NOW;

on_both_engines!(accounts_are_created_found_and_listed);
async fn accounts_are_created_found_and_listed(t: &TestDb) {
    let db = t.db();
    let hash = accounts::hash_password("s3cret-pass").unwrap();
    let ada = accounts::create(db, "  Ada@Example.COM ", &hash, Role::Customer, NOW)
        .await
        .unwrap();
    assert_eq!(ada.email, "ada@example.com");
    assert_eq!(ada.role, Role::Customer);
    assert_eq!(ada.time_zone, "UTC");
    assert_eq!(ada.quota_warning_percent, 80);
    assert!(!ada.totp_enabled);
    assert_eq!(ada.totp_secret, None);
    assert_eq!((ada.created_at, ada.updated_at), (NOW, NOW));

    let found = accounts::by_email(db, "ADA@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, ada);
    assert!(accounts::verify_password(
        "s3cret-pass",
        &found.password_hash
    ));
    assert!(!accounts::verify_password("wrong", &found.password_hash));
    assert_eq!(
        accounts::by_id(db, ada.id).await.unwrap(),
        Some(ada.clone())
    );
    assert_eq!(accounts::by_id(db, AccountId(999_999)).await.unwrap(), None);
    assert_eq!(
        accounts::by_email(db, "nobody@example.com").await.unwrap(),
        None
    );

    let admin = accounts::create(db, "root@example.com", &hash, Role::Admin, NOW + 1)
        .await
        .unwrap();
    assert_eq!(admin.role, Role::Admin);
    for i in 0..3 {
        crate::customer(db, &format!("user{i}@example.com")).await;
    }
    assert_eq!(accounts::count(db).await.unwrap(), 5);
    let all = accounts::list(db, Page::first(100)).await.unwrap();
    assert_eq!(all.len(), 5);
    assert!(
        all.windows(2).all(|w| w[0].id < w[1].id),
        "listed in id order"
    );
    let page = accounts::list(db, Page::new(2, 2)).await.unwrap();
    assert_eq!(
        page.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![all[2].id, all[3].id]
    );
}

on_both_engines!(duplicate_email_is_a_conflict);
async fn duplicate_email_is_a_conflict(t: &TestDb) {
    let db = t.db();
    crate::customer(db, "ada@example.com").await;
    let err = accounts::create(db, "ADA@Example.com", "h", Role::Customer, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("email")),
        "{err:?}"
    );
    let err = accounts::create(db, "not-an-email", "h", Role::Customer, NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(accounts::count(db).await.unwrap(), 1);
}

on_both_engines!(account_updates_and_delete);
async fn account_updates_and_delete(t: &TestDb) {
    let db = t.db();
    let id = crate::customer(db, "ada@example.com").await;
    let missing = AccountId(424_242);

    let new_hash = accounts::hash_password("another-pass").unwrap();
    accounts::set_password_hash(db, id, &new_hash, NOW + 10)
        .await
        .unwrap();
    let ada = accounts::by_id(db, id).await.unwrap().unwrap();
    assert!(accounts::verify_password(
        "another-pass",
        &ada.password_hash
    ));
    assert!(!accounts::needs_rehash(&ada.password_hash));
    assert_eq!(ada.updated_at, NOW + 10);

    accounts::set_role(db, id, Role::Admin, NOW + 20)
        .await
        .unwrap();
    assert_eq!(
        accounts::by_id(db, id).await.unwrap().unwrap().role,
        Role::Admin
    );

    accounts::set_totp(db, id, Some("JBSWY3DPEHPK3PXP"), true, NOW)
        .await
        .unwrap();
    let ada = accounts::by_id(db, id).await.unwrap().unwrap();
    assert!(ada.totp_enabled);
    assert_eq!(ada.totp_secret.as_deref(), Some("JBSWY3DPEHPK3PXP"));
    assert!(matches!(
        accounts::set_totp(db, id, None, true, NOW).await,
        Err(StoreError::Invalid(_))
    ));
    accounts::set_totp(db, id, None, false, NOW).await.unwrap();
    assert!(!accounts::by_id(db, id).await.unwrap().unwrap().totp_enabled);

    accounts::set_preferences(db, id, "Africa/Lagos", 90, NOW)
        .await
        .unwrap();
    let ada = accounts::by_id(db, id).await.unwrap().unwrap();
    assert_eq!(
        (ada.time_zone.as_str(), ada.quota_warning_percent),
        ("Africa/Lagos", 90)
    );
    for (tz, pct) in [("", 80), ("Lagos; DROP", 80), ("UTC", 101), ("UTC", -1)] {
        assert!(
            matches!(
                accounts::set_preferences(db, id, tz, pct, NOW).await,
                Err(StoreError::Invalid(_))
            ),
            "{tz:?} {pct}"
        );
    }

    for result in [
        accounts::set_password_hash(db, missing, "h", NOW).await,
        accounts::set_role(db, missing, Role::Admin, NOW).await,
        accounts::set_totp(db, missing, None, false, NOW).await,
        accounts::set_preferences(db, missing, "UTC", 80, NOW).await,
        accounts::delete(db, missing).await,
    ] {
        assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    }

    // Deleting cascades to what the account owns.
    credentials::create(db, id, NOW).await.unwrap();
    let ranges = store::allowlist::SourceRanges::PublicOnly;
    store::allowlist::add(db, id, "203.0.113.0/24", "", ranges, NOW)
        .await
        .unwrap();
    accounts::replace_recovery_codes(db, id, &["h1".to_owned()], NOW)
        .await
        .unwrap();
    accounts::delete(db, id).await.unwrap();
    assert_eq!(accounts::by_id(db, id).await.unwrap(), None);
    assert_eq!(credentials::by_account(db, id).await.unwrap(), None);
    assert!(
        store::allowlist::for_account(db, id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        accounts::unused_recovery_codes(db, id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        accounts::delete(db, id).await,
        Err(StoreError::NotFound)
    ));
}

on_both_engines!(recovery_codes_work_once);
async fn recovery_codes_work_once(t: &TestDb) {
    let db = t.db();
    let id = crate::customer(db, "ada@example.com").await;
    let hashes: Vec<String> = (0..3).map(|i| format!("hash-{i}")).collect();
    accounts::replace_recovery_codes(db, id, &hashes, NOW)
        .await
        .unwrap();
    let codes = accounts::unused_recovery_codes(db, id).await.unwrap();
    assert_eq!(
        codes
            .iter()
            .map(|c| c.code_hash.as_str())
            .collect::<Vec<_>>(),
        ["hash-0", "hash-1", "hash-2"]
    );
    assert!(
        codes
            .iter()
            .all(|c| c.account_id == id && c.used_at.is_none())
    );

    assert!(
        accounts::use_recovery_code(db, codes[1].id, NOW + 5)
            .await
            .unwrap()
    );
    assert!(
        !accounts::use_recovery_code(db, codes[1].id, NOW + 6)
            .await
            .unwrap(),
        "only once"
    );
    let left = accounts::unused_recovery_codes(db, id).await.unwrap();
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|c| c.id != codes[1].id));

    accounts::replace_recovery_codes(db, id, &["new".to_owned()], NOW)
        .await
        .unwrap();
    let left = accounts::unused_recovery_codes(db, id).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].code_hash, "new");
}

on_both_engines!(two_factor_turns_on_and_off_with_its_codes);
async fn two_factor_turns_on_and_off_with_its_codes(t: &TestDb) {
    let db = t.db();
    let id = crate::customer(db, "ada@example.com").await;
    let err = accounts::enable_totp(db, id, &["h".to_owned()], NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound),
        "no secret yet: {err:?}"
    );

    accounts::set_totp(db, id, Some("JBSWY3DPEHPK3PXP"), false, NOW)
        .await
        .unwrap();
    let hashes: Vec<String> = (0..10).map(|i| format!("h{i}")).collect();
    accounts::enable_totp(db, id, &hashes, NOW).await.unwrap();
    let account = accounts::by_id(db, id).await.unwrap().unwrap();
    assert!(account.totp_enabled);
    assert_eq!(account.totp_secret.as_deref(), Some("JBSWY3DPEHPK3PXP"));
    assert_eq!(
        accounts::unused_recovery_codes(db, id).await.unwrap().len(),
        10
    );

    // Each time step is accepted once, and never an earlier one after a later.
    assert!(accounts::accept_totp_step(db, id, 1000).await.unwrap());
    assert!(
        !accounts::accept_totp_step(db, id, 1000).await.unwrap(),
        "replayed"
    );
    assert!(
        !accounts::accept_totp_step(db, id, 999).await.unwrap(),
        "older"
    );
    assert!(accounts::accept_totp_step(db, id, 1001).await.unwrap());

    accounts::disable_totp(db, id, NOW).await.unwrap();
    let account = accounts::by_id(db, id).await.unwrap().unwrap();
    assert!(!account.totp_enabled);
    assert_eq!(account.totp_secret, None);
    assert!(
        accounts::unused_recovery_codes(db, id)
            .await
            .unwrap()
            .is_empty()
    );
    // A new enrolment starts its steps afresh.
    assert!(accounts::accept_totp_step(db, id, 5).await.unwrap());
}

on_both_engines!(password_change_and_sign_out_everywhere_move_the_epoch);
async fn password_change_and_sign_out_everywhere_move_the_epoch(t: &TestDb) {
    let db = t.db();
    let id = crate::customer(db, "ada@example.com").await;
    let start = accounts::by_id(db, id)
        .await
        .unwrap()
        .unwrap()
        .session_epoch;
    assert_eq!(start, 0);
    let hash = accounts::hash_password("a-new-long-password").unwrap();
    assert_eq!(
        accounts::change_password(db, id, &hash, NOW).await.unwrap(),
        1
    );
    let account = accounts::by_id(db, id).await.unwrap().unwrap();
    assert!(accounts::verify_password(
        "a-new-long-password",
        &account.password_hash
    ));
    assert_eq!(account.session_epoch, 1);
    assert_eq!(accounts::bump_session_epoch(db, id, NOW).await.unwrap(), 2);
    let missing = AccountId(987_654);
    assert!(matches!(
        accounts::bump_session_epoch(db, missing, NOW).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        accounts::change_password(db, missing, &hash, NOW).await,
        Err(StoreError::NotFound)
    ));
}
