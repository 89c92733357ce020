//! Faults during traffic, each bounded in time and on loopback only: the database stopping
//! for 30 s ([`database_outage`]), the service killed with SIGKILL, with the database up and
//! during an outage ([`crash`]), and SQLite's disk filling up ([`disk_full`]). Each checks
//! that the gateway serves on and that the usage stored afterwards equals what the clients
//! counted (less, after a kill, at most a second of traffic). They run on a PostgreSQL of
//! their own ([`private_postgres`]) that they may stop, or on a small tmpfs of their own.

// A failed unwrap here is a failed test with its location, which is all it needs to say.
#![allow(clippy::unwrap_used)]

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod crash;
mod database_outage;
mod disk_full;
mod private_postgres;
mod traffic;

use store::Db;

/// Connects to `url`, migrates it, and makes a customer on the Starter plan with limits
/// this traffic does not reach; returns the database and the proxy credentials.
pub async fn prepare_customer(url: &str, email: &str) -> (Db, String, String) {
    let db = Db::connect(url).await.expect("connect");
    db.migrate().await.expect("migrate");
    let (user, pass) = common::customer(&db, email, "Starter").await;
    sqlx::query(
        "UPDATE plans SET requests_per_second = 1000, max_connections = 1000, \
         bandwidth_bytes = NULL WHERE name = 'Starter'",
    )
    .execute(db.pool())
    .await
    .expect("raise the plan's limits");
    (db, user, pass)
}

/// The account's stored usage, (bytes up, bytes down), over all hours and exits.
pub async fn stored_bytes(db: &Db, email: &str) -> (u64, u64) {
    let account = store::accounts::by_email(db, email)
        .await
        .expect("query")
        .expect("account");
    let (up, down): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(bytes_up), 0) AS BIGINT), \
                CAST(COALESCE(SUM(bytes_down), 0) AS BIGINT) \
         FROM usage_hourly WHERE account_id = $1",
    )
    .bind(account.id)
    .fetch_one(db.pool())
    .await
    .expect("usage");
    (up as u64, down as u64)
}
