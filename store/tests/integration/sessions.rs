//! The session table our migrations create is the one tower-sessions-sqlx-store uses.

use std::collections::HashMap;

use store::SessionPool;
use store::test_support::TestDb;
use tower_sessions::cookie::time::{Duration, OffsetDateTime};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::SessionStore;
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

async fn round_trip(store: &impl SessionStore) {
    let mut record = Record {
        id: Id::default(),
        data: HashMap::from([("account_id".to_owned(), serde_json::json!(42))]),
        expiry_date: OffsetDateTime::now_utc() + Duration::hours(1),
    };
    store.create(&mut record).await.unwrap();
    let loaded = store
        .load(&record.id)
        .await
        .unwrap()
        .expect("session is stored");
    assert_eq!(loaded.data, record.data);

    record
        .data
        .insert("csrf".to_owned(), serde_json::json!("token"));
    store.save(&record).await.unwrap();
    let loaded = store
        .load(&record.id)
        .await
        .unwrap()
        .expect("session is stored");
    assert_eq!(loaded.data.get("csrf"), Some(&serde_json::json!("token")));

    store.delete(&record.id).await.unwrap();
    assert!(store.load(&record.id).await.unwrap().is_none());
}

on_both_engines!(session_store_works_on_the_migrated_table);
async fn session_store_works_on_the_migrated_table(t: &TestDb) {
    // The stores' own migrate() is never called: the table must come from ours.
    match t.db().session_pool() {
        SessionPool::Sqlite(pool) => round_trip(&SqliteStore::new(pool.clone())).await,
        SessionPool::Postgres(pool) => round_trip(&PostgresStore::new(pool.clone())).await,
    }
}
