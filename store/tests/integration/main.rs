//! Integration tests of the store: every story runs on SQLite and on PostgreSQL, each test in
//! a fresh database (see `store::test_support`).

#![allow(clippy::unwrap_used)]

/// Turns `async fn story(t: &TestDb)` into a module `story` with tests `sqlite` and
/// `postgres`, each on a fresh migrated database (or an empty one after `unmigrated:`).
macro_rules! on_both_engines {
    ($(#[$meta:meta])* $story:ident) => {
        on_both_engines!(@tests new $story);
    };
    (unmigrated: $story:ident) => {
        on_both_engines!(@tests unmigrated $story);
    };
    (@tests $constructor:ident $story:ident) => {
        mod $story {
            use store::test_support::{Engine, TestDb};

            #[tokio::test]
            async fn sqlite() {
                let Some(t) = TestDb::$constructor(Engine::Sqlite).await else {
                    return;
                };
                super::$story(&t).await;
                t.close().await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some(t) = TestDb::$constructor(Engine::Postgres).await else {
                    return;
                };
                super::$story(&t).await;
                t.close().await;
            }
        }
    };
}

mod accounts;
mod activity;
mod allowlist;
mod api_tokens;
mod backup;
mod billing;
mod credentials;
mod exits;
mod job_lock;
mod migrations;
mod payments;
mod periods;
mod quota;
mod renewals;
mod sealing;
mod sessions;
mod usage;

/// A fixed "now" for stories: 2026-11-22 10:30 UTC, mid-hour on purpose.
pub const NOW: i64 = 1_795_343_400_000;

/// Creates a customer with a throwaway hash (real hashing is tested where it matters).
pub async fn customer(db: &store::Db, email: &str) -> store::AccountId {
    store::accounts::create(
        db,
        email,
        "$argon2id$placeholder",
        store::accounts::Role::Customer,
        NOW,
    )
    .await
    .unwrap()
    .id
}
