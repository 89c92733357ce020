//! Migrations, pool settings and connection errors.

use store::test_support::{Engine, TestDb};
use store::{Backend, StoreError};

const MIGRATIONS: usize = 13;

async fn table_exists(t: &TestDb, table: &str) -> bool {
    sqlx::query(&format!("SELECT 1 FROM {table} LIMIT 1"))
        .fetch_optional(t.db().pool())
        .await
        .is_ok()
}

async fn plan_count(t: &TestDb) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM plans")
        .fetch_one(t.db().pool())
        .await
        .unwrap()
}

fn session_table(t: &TestDb) -> &'static str {
    match t.engine() {
        Engine::Sqlite => "tower_sessions",
        Engine::Postgres => "tower_sessions.session",
    }
}

on_both_engines!(unmigrated: migrate_is_idempotent);
async fn migrate_is_idempotent(t: &TestDb) {
    let db = t.db();
    assert_eq!(db.pending_migrations().await.unwrap(), MIGRATIONS);
    assert!(!table_exists(t, "accounts").await);
    db.migrate().await.unwrap();
    assert_eq!(db.pending_migrations().await.unwrap(), 0);
    db.migrate().await.unwrap();
    db.migrate().await.unwrap();
    assert_eq!(db.pending_migrations().await.unwrap(), 0);
    // The seed ran once, not three times.
    assert_eq!(plan_count(t).await, 5);
    for table in [
        "accounts",
        "exits",
        "usage_hourly",
        "webhook_events",
        session_table(t),
    ] {
        assert!(table_exists(t, table).await, "{table} should exist");
    }
}

on_both_engines!(revert_last_then_migrate_again);
async fn revert_last_then_migrate_again(t: &TestDb) {
    let db = t.db();
    // 0009 adds the exits' name forwarding and renames exits named after their address.
    sqlx::query(
        "INSERT INTO exits (name, url, kind, country, created_at, updated_at) \
         VALUES ('10.0.0.9:1080', 'socks5://u:p@10.0.0.9:1080', 'socks5', 'ng', 0, 0)",
    )
    .execute(db.pool())
    .await
    .unwrap();
    // 0013 numbers the renewal attempts and adds the proration credit to payments.
    assert_eq!(db.revert_last().await.unwrap(), Some(13));
    assert!(
        sqlx::query("SELECT credit_minor FROM payments")
            .fetch_optional(db.pool())
            .await
            .is_err(),
        "credit_minor is dropped"
    );
    // 0012 only adds the table of written usage batches.
    assert!(table_exists(t, "usage_batches").await);
    assert_eq!(db.revert_last().await.unwrap(), Some(12));
    assert!(!table_exists(t, "usage_batches").await);
    // 0011 only adds the API tokens' table.
    assert!(table_exists(t, "api_tokens").await);
    assert_eq!(db.revert_last().await.unwrap(), Some(11));
    assert!(!table_exists(t, "api_tokens").await);
    // 0010 only adds the table backups are recorded in.
    assert!(table_exists(t, "backups").await);
    assert_eq!(db.revert_last().await.unwrap(), Some(10));
    assert!(!table_exists(t, "backups").await);
    assert_eq!(db.revert_last().await.unwrap(), Some(9));
    assert!(
        sqlx::query("SELECT forward_names FROM exits")
            .fetch_optional(db.pool())
            .await
            .is_err(),
        "forward_names is dropped"
    );
    db.migrate().await.unwrap();
    let (name, forward): (String, i64) =
        sqlx::query_as("SELECT name, forward_names FROM exits WHERE country = 'ng'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert!(name.starts_with("NG #") && forward == 0, "{name} {forward}");
    assert_eq!(db.revert_last().await.unwrap(), Some(13));
    assert_eq!(db.revert_last().await.unwrap(), Some(12));
    assert_eq!(db.revert_last().await.unwrap(), Some(11));
    assert_eq!(db.revert_last().await.unwrap(), Some(10));
    assert_eq!(db.revert_last().await.unwrap(), Some(9));
    // 0007 widens the payment statuses (SQLite rebuilds the table): a superseded payment
    // reads as the success it was once reverted, and nothing else is lost.
    let ada = crate::customer(db, "ada@example.com").await;
    // Written as the schema of 0007 has it (the store's queries read the newest columns).
    sqlx::query(
        "INSERT INTO payments (account_id, plan_id, reference, amount_minor, currency, status, \
             created_at, updated_at) \
         SELECT $1, id, 'ref-kept', price_minor, currency, 'pending', 0, 0 FROM plans \
          WHERE name = 'Starter'",
    )
    .bind(ada)
    .execute(db.pool())
    .await
    .unwrap();
    sqlx::query("UPDATE payments SET status = 'superseded' WHERE reference = 'ref-kept'")
        .execute(db.pool())
        .await
        .unwrap();
    // 0008 adds the exits' sealed URL (its data is tested in `sealing`).
    assert_eq!(db.revert_last().await.unwrap(), Some(8));
    assert_eq!(db.revert_last().await.unwrap(), Some(7));
    let status =
        sqlx::query_scalar::<_, String>("SELECT status FROM payments WHERE reference = 'ref-kept'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(status, "success");
    db.migrate().await.unwrap();
    assert_eq!(db.revert_last().await.unwrap(), Some(13));
    assert_eq!(db.revert_last().await.unwrap(), Some(12));
    assert_eq!(db.revert_last().await.unwrap(), Some(11));
    assert_eq!(db.revert_last().await.unwrap(), Some(10));
    assert_eq!(db.revert_last().await.unwrap(), Some(9));
    assert_eq!(db.revert_last().await.unwrap(), Some(8));
    assert_eq!(db.revert_last().await.unwrap(), Some(7));
    // 0006 only adds the automatic-renewal columns and their index.
    assert_eq!(db.revert_last().await.unwrap(), Some(6));
    assert!(
        sqlx::query("SELECT auto_renew FROM subscriptions")
            .fetch_optional(db.pool())
            .await
            .is_err(),
        "auto_renew is dropped"
    );
    assert!(table_exists(t, "payments").await);
    // 0005: the per-session usage table and the quota-warning mark.
    assert!(table_exists(t, "usage_sessions_hourly").await);
    assert_eq!(db.revert_last().await.unwrap(), Some(5));
    assert!(!table_exists(t, "usage_sessions_hourly").await);
    // 0004 only adds columns to accounts.
    assert_eq!(db.revert_last().await.unwrap(), Some(4));
    assert!(table_exists(t, "exits").await);
    assert_eq!(db.revert_last().await.unwrap(), Some(3));
    assert_eq!(db.pending_migrations().await.unwrap(), MIGRATIONS - 2);
    assert!(!table_exists(t, "exits").await);
    assert!(!table_exists(t, "usage_hourly").await);
    assert!(table_exists(t, "plans").await);

    db.migrate().await.unwrap();
    assert_eq!(db.pending_migrations().await.unwrap(), 0);
    assert!(table_exists(t, "exits").await);

    // All the way down: every table, the session table included, is gone.
    assert_eq!(db.revert_last().await.unwrap(), Some(13));
    assert_eq!(db.revert_last().await.unwrap(), Some(12));
    assert_eq!(db.revert_last().await.unwrap(), Some(11));
    assert_eq!(db.revert_last().await.unwrap(), Some(10));
    assert_eq!(db.revert_last().await.unwrap(), Some(9));
    assert_eq!(db.revert_last().await.unwrap(), Some(8));
    assert_eq!(db.revert_last().await.unwrap(), Some(7));
    assert_eq!(db.revert_last().await.unwrap(), Some(6));
    assert_eq!(db.revert_last().await.unwrap(), Some(5));
    assert_eq!(db.revert_last().await.unwrap(), Some(4));
    assert_eq!(db.revert_last().await.unwrap(), Some(3));
    assert_eq!(db.revert_last().await.unwrap(), Some(2));
    assert_eq!(db.revert_last().await.unwrap(), Some(1));
    assert_eq!(db.revert_last().await.unwrap(), None);
    assert_eq!(db.pending_migrations().await.unwrap(), MIGRATIONS);
    for table in [
        "accounts",
        "plans",
        "proxy_credentials",
        "activity",
        session_table(t),
    ] {
        assert!(!table_exists(t, table).await, "{table} should be dropped");
    }
    if t.engine() == Engine::Postgres {
        let schemas = sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'tower_sessions'",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(schemas, 0, "the session schema is dropped too");
    }

    // And back up, seed included.
    db.migrate().await.unwrap();
    assert_eq!(db.pending_migrations().await.unwrap(), 0);
    assert_eq!(plan_count(t).await, 5);
}

on_both_engines!(ping_backend_and_pool_stats);
async fn ping_backend_and_pool_stats(t: &TestDb) {
    let db = t.db();
    let rtt = db.ping().await.unwrap();
    assert!(rtt.as_secs() < 5);
    let stats = db.pool_stats();
    assert!(stats.size >= 1 && stats.idle <= stats.size, "{stats:?}");
    match t.engine() {
        Engine::Sqlite => {
            assert_eq!(db.backend(), Backend::Sqlite);
            assert_eq!(db.backend().to_string(), "sqlite");
            assert_eq!(stats.max, 8);
            assert!(matches!(db.session_pool(), store::SessionPool::Sqlite(_)));
        }
        Engine::Postgres => {
            assert_eq!(db.backend(), Backend::Postgres);
            assert_eq!(db.backend().to_string(), "postgres");
            assert_eq!(stats.max, 25);
            assert!(matches!(db.session_pool(), store::SessionPool::Postgres(_)));
        }
    }
    // Clones share the pool.
    let clone = db.clone();
    clone.ping().await.unwrap();
    assert_eq!(clone.pool_stats().max, stats.max);
}

#[tokio::test]
async fn sqlite_pragmas_are_set_on_every_connection() {
    let t = TestDb::new(Engine::Sqlite).await.unwrap();
    // Hold several connections at once so more than one is opened and checked.
    let mut conns = Vec::new();
    for _ in 0..3 {
        conns.push(t.db().pool().acquire().await.unwrap());
    }
    for conn in &mut conns {
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        assert_eq!(fk, 1);
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        assert_eq!(mode.to_lowercase(), "wal");
        let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        assert_eq!(busy, 5000);
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        assert_eq!(sync, 1, "synchronous = NORMAL");
    }
    drop(conns);
    t.close().await;
}

#[tokio::test]
async fn sqlite_creates_missing_directories_and_file() {
    let root = std::env::temp_dir().join(format!("atlantic-connect-{}", std::process::id()));
    let file = root.join("nested/deeper/atlantic.db");
    let _ = std::fs::remove_dir_all(&root);
    let db = store::Db::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    assert!(file.exists());
    db.migrate().await.unwrap();
    db.close().await;
    // Reopening the same file finds the schema.
    let db = store::Db::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    assert_eq!(db.pending_migrations().await.unwrap(), 0);
    db.close().await;
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test]
async fn unsupported_schemes_name_the_scheme() {
    let err = store::Db::connect("mysql://root:pw@localhost/atl")
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StoreError::Config(_)));
    assert!(message.contains("mysql"), "{message}");
    assert!(
        message.contains("sqlite://") && message.contains("postgres://"),
        "{message}"
    );
}

#[tokio::test]
async fn connection_failures_are_one_line_without_the_password() {
    // Port 1 on loopback: nothing listens, so the connection is refused.
    let err = store::Db::connect("postgres://atl:hunter2secret@127.0.0.1:1/atl")
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StoreError::Config(_)), "{err:?}");
    assert!(!message.contains("hunter2secret"), "{message}");
    assert!(!message.contains('\n'), "{message}");
    assert!(
        message.contains("postgres://atl:***@127.0.0.1:1/atl"),
        "{message}"
    );
}
