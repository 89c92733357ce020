//! The activity log.

use serde_json::json;
use store::activity::{self, KindFilter, NewActivity};
use store::test_support::TestDb;
use store::{Page, StoreError, accounts};

use crate::NOW;

on_both_engines!(activity_is_listed_newest_first_and_filtered);
async fn activity_is_listed_newest_first_and_filtered(t: &TestDb) {
    let db = t.db();
    let ada = crate::customer(db, "ada@example.com").await;
    let bob = crate::customer(db, "bob@example.com").await;

    let login = NewActivity {
        detail: json!({"method": "password", "totp": false}),
        ip: Some("203.0.113.9"),
        user_agent: Some("curl/8.5.0"),
        ..NewActivity::new(Some(ada), "auth.login")
    };
    let first = activity::record(db, &login, NOW).await.unwrap();
    activity::record(
        db,
        &NewActivity::new(Some(ada), "credentials.regenerated"),
        NOW + 1,
    )
    .await
    .unwrap();
    activity::record(db, &login, NOW + 2).await.unwrap();
    activity::record(db, &NewActivity::new(Some(bob), "auth.login"), NOW + 3)
        .await
        .unwrap();
    let long_ua = "x".repeat(2000);
    let anonymous = NewActivity {
        user_agent: Some(&long_ua),
        ..NewActivity::new(None, "auth.login_failed")
    };
    activity::record(db, &anonymous, NOW + 4).await.unwrap();

    let all = activity::list(db, ada, KindFilter::ALL, Page::first(50))
        .await
        .unwrap();
    assert_eq!(
        all.iter()
            .map(|a| (a.kind.as_str(), a.created_at))
            .collect::<Vec<_>>(),
        vec![
            ("auth.login", NOW + 2),
            ("credentials.regenerated", NOW + 1),
            ("auth.login", NOW)
        ]
    );
    let oldest = &all[2];
    assert_eq!(oldest.id, first);
    assert_eq!(oldest.account_id, Some(ada));
    assert_eq!(oldest.detail, json!({"method": "password", "totp": false}));
    assert_eq!(
        (oldest.ip.as_deref(), oldest.user_agent.as_deref()),
        (Some("203.0.113.9"), Some("curl/8.5.0"))
    );
    assert_eq!(all[1].detail, json!({}), "no detail is an empty object");

    let logins = activity::list(db, ada, KindFilter(&["auth.login"]), Page::first(50))
        .await
        .unwrap();
    assert_eq!(logins.len(), 2);
    assert!(
        logins
            .iter()
            .all(|a| a.kind == "auth.login" && a.account_id == Some(ada))
    );
    assert_eq!(activity::count(db, ada, KindFilter::ALL).await.unwrap(), 3);
    assert_eq!(
        activity::count(db, ada, KindFilter(&["auth.login"]))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        activity::count(db, ada, KindFilter(&["nothing"]))
            .await
            .unwrap(),
        0
    );
    // A filter names kinds or their dotted families, and `_` is not a wildcard.
    activity::record(db, &NewActivity::new(Some(ada), "authxlogin"), NOW - 1)
        .await
        .unwrap();
    let family = KindFilter(&["auth", "credentials"]);
    assert_eq!(activity::count(db, ada, family).await.unwrap(), 3);
    activity::record(db, &NewActivity::new(Some(ada), "sign_in.failed"), NOW - 2)
        .await
        .unwrap();
    activity::record(db, &NewActivity::new(Some(ada), "signxin.failed"), NOW - 3)
        .await
        .unwrap();
    assert_eq!(
        activity::count(db, ada, KindFilter(&["sign_in"]))
            .await
            .unwrap(),
        1
    );
    sqlx::query(
        "DELETE FROM activity WHERE kind IN ('authxlogin', 'sign_in.failed', 'signxin.failed')",
    )
    .execute(db.pool())
    .await
    .unwrap();
    let page = activity::list(db, ada, KindFilter::ALL, Page::new(1, 1))
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|a| a.kind.as_str()).collect::<Vec<_>>(),
        ["credentials.regenerated"]
    );

    let stored_ua: String =
        sqlx::query_scalar("SELECT user_agent FROM activity WHERE account_id IS NULL")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(stored_ua.len(), 512, "long user agents are cut");

    let err = activity::record(db, &NewActivity::new(Some(ada), " "), NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)));

    // Deleting an account removes its log; anonymous events stay.
    accounts::delete(db, ada).await.unwrap();
    assert_eq!(activity::count(db, ada, KindFilter::ALL).await.unwrap(), 0);
    assert_eq!(activity::count(db, bob, KindFilter::ALL).await.unwrap(), 1);
    assert_eq!(
        activity::purge_before(db, NOW + 4).await.unwrap(),
        1,
        "bob's"
    );
    assert_eq!(
        activity::purge_before(db, NOW + 5).await.unwrap(),
        1,
        "the anonymous one"
    );
}

on_both_engines!(a_cursor_walks_every_event_once_while_more_are_logged);
async fn a_cursor_walks_every_event_once_while_more_are_logged(t: &TestDb) {
    let db = t.db();
    let ada = crate::customer(db, "ada@example.com").await;
    let bob = crate::customer(db, "bob@example.com").await;
    // Seven events, three of them in the same millisecond (the id breaks the tie).
    for (n, at) in [0, 1, 1, 1, 2, 3, 4].into_iter().enumerate() {
        let event = NewActivity {
            detail: json!({ "n": n }),
            ..NewActivity::new(Some(ada), "test.event")
        };
        activity::record(db, &event, NOW + at).await.unwrap();
    }
    activity::record(db, &NewActivity::new(Some(bob), "test.event"), NOW + 2)
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = activity::list_after(db, ada, cursor, 3).await.unwrap();
        assert!(page.len() <= 3);
        if seen.is_empty() {
            // Logged after the first page: newer than the cursor, so not in later pages.
            activity::record(db, &NewActivity::new(Some(ada), "test.late"), NOW + 10)
                .await
                .unwrap();
        }
        let Some(last) = page.last() else { break };
        cursor = Some(activity::Cursor {
            created_at: last.created_at,
            id: last.id,
        });
        seen.extend(page.iter().map(|a| a.detail["n"].as_i64().unwrap()));
    }
    assert_eq!(seen, [6, 5, 4, 3, 2, 1, 0]);
}
