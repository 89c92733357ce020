//! Secrets sealed at rest: proxy passwords, TOTP secrets and exits' upstream URLs never reach
//! a column in plaintext, open only for their own row and under a configured key, survive a
//! rotation, and migration 0008 seals and unseals existing rows.

use store::exits::{self, NewExit};
use store::test_support::TestDb;
use store::{AccountId, Db, Keyring, SealError, StoreError, accounts, credentials, secrets};

use crate::{NOW, customer};

const OLD: &str = "the-old-secret-the-old-secret-the-old-secret";
const NEW: &str = "the-new-secret-the-new-secret-the-new-secret";
const TOTP: &str = "JBSWY3DPEHPK3PXP";
const EXIT_URL: &str = "socks5://upstream-user:upstream-pa55word@203.0.113.7:1080";

/// One secret of each kind for a new customer; returns the account and its proxy password.
async fn secrets_for(db: &Db, email: &str) -> (AccountId, String) {
    let id = customer(db, email).await;
    let creds = credentials::create(db, id, NOW).await.unwrap();
    accounts::set_totp(db, id, Some(TOTP), false, NOW)
        .await
        .unwrap();
    (id, creds.secret)
}

async fn scalar(db: &Db, sql: &str, id: i64) -> String {
    sqlx::query_scalar::<_, String>(sql)
        .bind(id)
        .fetch_one(db.pool())
        .await
        .unwrap()
}

/// The stored proxy password, TOTP secret, and exit `url` and `url_sealed` columns.
async fn stored(db: &Db, account: AccountId, exit: i64) -> [String; 4] {
    [
        scalar(
            db,
            "SELECT secret FROM proxy_credentials WHERE account_id = $1",
            account.get(),
        )
        .await,
        scalar(
            db,
            "SELECT totp_secret FROM accounts WHERE id = $1",
            account.get(),
        )
        .await,
        scalar(db, "SELECT url FROM exits WHERE id = $1", exit).await,
        scalar(db, "SELECT url_sealed FROM exits WHERE id = $1", exit).await,
    ]
}

on_both_engines!(columns_never_hold_the_plaintext_and_reads_open_it);
async fn columns_never_hold_the_plaintext_and_reads_open_it(t: &TestDb) {
    let db = t.db();
    let (ada, password) = secrets_for(db, "ada@example.com").await;
    let exit = exits::add(db, &NewExit::new(EXIT_URL, "ng"), NOW)
        .await
        .unwrap();
    assert_eq!(exit.url, EXIT_URL, "add returns the URL opened");

    let [secret, totp, url, url_sealed] = stored(db, ada, exit.id.get()).await;
    let version = db.keyring().version().to_owned();
    for (column, value) in [
        ("secret", &secret),
        ("totp", &totp),
        ("url_sealed", &url_sealed),
    ] {
        assert!(
            value.starts_with(&format!("v1:{version}:")),
            "{column}: {value}"
        );
    }
    assert!(!secret.contains(&password), "{secret}");
    assert!(!totp.contains(TOTP), "{totp}");
    assert!(!url_sealed.contains("pa55word") && !url_sealed.contains("203.0.113.7"));
    assert_eq!(
        url, "socks5://upstream-user:***@203.0.113.7:1080",
        "url is the identity"
    );

    let creds = credentials::by_account(db, ada).await.unwrap().unwrap();
    assert_eq!(creds.secret, password);
    let creds = credentials::by_username(db, &creds.username)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(creds.secret, password);
    let gateway = credentials::gateway_accounts(db, NOW).await.unwrap();
    assert_eq!(gateway[0].secret, password);
    let account = accounts::by_id(db, ada).await.unwrap().unwrap();
    assert_eq!(account.totp_secret.as_deref(), Some(TOTP));
    let by_email = accounts::by_email(db, "ada@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_email.totp_secret.as_deref(), Some(TOTP));
    let listed = accounts::list(db, store::Page::first(10)).await.unwrap();
    assert_eq!(listed[0].totp_secret.as_deref(), Some(TOTP));
    assert_eq!(exits::list(db).await.unwrap()[0].url, EXIT_URL);
    assert_eq!(
        exits::by_id(db, exit.id).await.unwrap().unwrap().url,
        EXIT_URL
    );

    // A regenerated password is sealed too.
    let fresh = credentials::regenerate(db, ada, NOW).await.unwrap();
    let [secret, ..] = stored(db, ada, exit.id.get()).await;
    assert!(!secret.contains(&fresh.secret) && secret.starts_with("v1:"));
    let creds = credentials::by_account(db, ada).await.unwrap().unwrap();
    assert_eq!(creds.secret, fresh.secret);

    // The same user at the same proxy is one exit, whatever the password.
    let other_password = "socks5://upstream-user:another@203.0.113.7:1080";
    let err = exits::add(db, &NewExit::new(other_password, "ng"), NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(!err.to_string().contains("another"), "{err}");

    // Nothing that holds a secret shows it in Debug output.
    let shown = format!(
        "{creds:?} {gateway:?} {account:?} {exit:?} {:?} {db:?}",
        db.keyring()
    );
    for secret in [
        fresh.secret.as_str(),
        TOTP,
        "pa55word",
        "development-secret",
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

on_both_engines!(a_sealed_value_does_not_open_in_another_row);
async fn a_sealed_value_does_not_open_in_another_row(t: &TestDb) {
    let db = t.db();
    let (ada, _) = secrets_for(db, "ada@example.com").await;
    let (bob, _) = secrets_for(db, "bob@example.com").await;
    let first = exits::add(db, &NewExit::new(EXIT_URL, "ng"), NOW)
        .await
        .unwrap();
    let second = exits::add(db, &NewExit::new("http://u:p@198.51.100.1:8080", "gb"), NOW)
        .await
        .unwrap();
    // Copy Ada's sealed values over Bob's, and the first exit's over the second's.
    let [secret, totp, _, url_sealed] = stored(db, ada, first.id.get()).await;
    for (sql, value, id) in [
        (
            "UPDATE proxy_credentials SET secret = $1 WHERE account_id = $2",
            &secret,
            bob.get(),
        ),
        (
            "UPDATE accounts SET totp_secret = $1 WHERE id = $2",
            &totp,
            bob.get(),
        ),
        (
            "UPDATE exits SET url_sealed = $1 WHERE id = $2",
            &url_sealed,
            second.id.get(),
        ),
    ] {
        sqlx::query(sql)
            .bind(value)
            .bind(id)
            .execute(db.pool())
            .await
            .unwrap();
    }
    let rejected = |result: Result<(), StoreError>| match result {
        Err(StoreError::Sealed(SealError::Rejected { row, .. })) => row,
        other => panic!("expected a rejected seal, got {other:?}"),
    };
    let row = rejected(credentials::by_account(db, bob).await.map(drop));
    assert_eq!(row, bob.get());
    rejected(accounts::by_id(db, bob).await.map(drop));
    rejected(exits::by_id(db, second.id).await.map(drop));
    // Ada's own rows still open.
    assert!(credentials::by_account(db, ada).await.unwrap().is_some());
    assert_eq!(
        exits::by_id(db, first.id).await.unwrap().unwrap().url,
        EXIT_URL
    );
}

on_both_engines!(a_wrong_key_fails_with_a_clear_error);
async fn a_wrong_key_fails_with_a_clear_error(t: &TestDb) {
    let db = t.db().clone().with_keyring(Keyring::new(OLD, &[]));
    let (ada, _) = secrets_for(&db, "ada@example.com").await;
    let wrong = db.clone().with_keyring(Keyring::new(NEW, &[]));
    let err = credentials::by_account(&wrong, ada).await.unwrap_err();
    let StoreError::Sealed(SealError::UnknownKey { version, .. }) = &err else {
        panic!("expected an unknown key, got {err:?}");
    };
    assert_eq!(version, db.keyring().version());
    let message = err.to_string();
    assert!(message.contains("proxy_credentials.secret"), "{message}");
    assert!(message.contains("ATLANTIC_SECRET_PREVIOUS"), "{message}");
    assert!(
        !message.contains(OLD) && !message.contains(NEW),
        "{message}"
    );
    assert!(matches!(
        accounts::by_id(&wrong, ada).await,
        Err(StoreError::Sealed(SealError::UnknownKey { .. }))
    ));
    assert!(credentials::gateway_accounts(&wrong, NOW).await.is_err());
}

on_both_engines!(rotation_reseals_under_the_current_key);
async fn rotation_reseals_under_the_current_key(t: &TestDb) {
    let old = t.db().clone().with_keyring(Keyring::new(OLD, &[]));
    let (ada, password) = secrets_for(&old, "ada@example.com").await;
    let exit = exits::add(&old, &NewExit::new(EXIT_URL, "ng"), NOW)
        .await
        .unwrap();

    // Only while the previous secret is configured do old values open.
    let new_only = old.clone().with_keyring(Keyring::new(NEW, &[]));
    assert!(credentials::by_account(&new_only, ada).await.is_err());
    assert!(matches!(
        secrets::rotate(&new_only).await,
        Err(StoreError::Sealed(SealError::UnknownKey { .. }))
    ));
    let both = old.clone().with_keyring(Keyring::new(NEW, &[OLD]));
    let creds = credentials::by_account(&both, ada).await.unwrap().unwrap();
    assert_eq!(creds.secret, password);

    let rotation = secrets::rotate(&both).await.unwrap();
    assert_eq!((rotation.resealed, rotation.current), (3, 0));
    assert_eq!(rotation.version, both.keyring().version());
    let prefix = format!("v1:{}:", both.keyring().version());
    let [secret, totp, _, url_sealed] = stored(&both, ada, exit.id.get()).await;
    for value in [&secret, &totp, &url_sealed] {
        assert!(value.starts_with(&prefix), "{value}");
    }
    let again = secrets::rotate(&both).await.unwrap();
    assert_eq!((again.resealed, again.current), (0, 3));

    // The previous secret can go now; the old one alone no longer opens anything.
    let creds = credentials::by_account(&new_only, ada)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(creds.secret, password);
    let account = accounts::by_id(&new_only, ada).await.unwrap().unwrap();
    assert_eq!(account.totp_secret.as_deref(), Some(TOTP));
    assert_eq!(exits::list(&new_only).await.unwrap()[0].url, EXIT_URL);
    assert!(credentials::by_account(&old, ada).await.is_err());
}

on_both_engines!(migration_0008_seals_and_its_revert_unseals);
async fn migration_0008_seals_and_its_revert_unseals(t: &TestDb) {
    let db = t.db();
    let (ada, password) = secrets_for(db, "ada@example.com").await;
    let exit = exits::add(db, &NewExit::new(EXIT_URL, "ng"), NOW)
        .await
        .unwrap();

    // 0013 (renewal attempts, proration credit), 0012 (usage batches), 0011 (the API tokens),
    // 0010 (the backups table) and 0009 (the exits' names and name forwarding) sit on top;
    // they go first
    assert_eq!(db.revert_last().await.unwrap(), Some(13));
    assert_eq!(db.revert_last().await.unwrap(), Some(12));
    assert_eq!(db.revert_last().await.unwrap(), Some(11));
    assert_eq!(db.revert_last().await.unwrap(), Some(10));
    assert_eq!(db.revert_last().await.unwrap(), Some(9));
    assert_eq!(db.revert_last().await.unwrap(), Some(8));
    let plaintext = |sql: &'static str, id: i64| scalar(db, sql, id);
    assert_eq!(
        plaintext(
            "SELECT secret FROM proxy_credentials WHERE account_id = $1",
            ada.get()
        )
        .await,
        password
    );
    assert_eq!(
        plaintext("SELECT totp_secret FROM accounts WHERE id = $1", ada.get()).await,
        TOTP
    );
    assert_eq!(
        plaintext("SELECT url FROM exits WHERE id = $1", exit.id.get()).await,
        EXIT_URL
    );

    db.migrate().await.unwrap();
    let [secret, totp, url, url_sealed] = stored(db, ada, exit.id.get()).await;
    assert!(secret.starts_with("v1:") && !secret.contains(&password));
    assert!(totp.starts_with("v1:") && !totp.contains(TOTP));
    assert!(url_sealed.starts_with("v1:") && !url.contains("pa55word"));
    assert_eq!(
        credentials::by_account(db, ada)
            .await
            .unwrap()
            .unwrap()
            .secret,
        password
    );
    assert_eq!(exits::list(db).await.unwrap()[0].url, EXIT_URL);
}

on_both_engines!(plaintext_is_read_only_by_the_migration_that_seals_it);
async fn plaintext_is_read_only_by_the_migration_that_seals_it(t: &TestDb) {
    let db = t.db();
    let (ada, _) = secrets_for(db, "ada@example.com").await;
    // A row written in plaintext behind the store's back (an old binary, a hand edit).
    sqlx::query("UPDATE proxy_credentials SET secret = 'PlainPassword123' WHERE account_id = $1")
        .bind(ada)
        .execute(db.pool())
        .await
        .unwrap();
    let err = credentials::by_account(db, ada).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Sealed(SealError::Plaintext { .. })),
        "plaintext is refused, not used: {err:?}"
    );
    assert!(err.to_string().contains("atlantic migrate"), "{err}");
    assert!(!err.to_string().contains("PlainPassword123"), "{err}");

    db.migrate().await.unwrap();
    let creds = credentials::by_account(db, ada).await.unwrap().unwrap();
    assert_eq!(creds.secret, "PlainPassword123");
    let secret = scalar(
        db,
        "SELECT secret FROM proxy_credentials WHERE account_id = $1",
        ada.get(),
    )
    .await;
    assert!(
        secret.starts_with("v1:") && !secret.contains("PlainPassword123"),
        "{secret}"
    );
}
