//! Reading the dashboard's session table (written by the tower-sessions stores in `server`).

use crate::{Db, SessionPool};

/// Unexpired sessions stored, for the `atlantic_web_sessions` gauge (the index on
/// `expiry_date` serves the count).
pub async fn live_count(db: &Db) -> Result<i64, sqlx::Error> {
    match db.session_pool() {
        SessionPool::Sqlite(pool) => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM tower_sessions WHERE expiry_date > unixepoch()",
            )
            .fetch_one(pool)
            .await
        }
        SessionPool::Postgres(pool) => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM tower_sessions.session WHERE expiry_date > now()",
            )
            .fetch_one(pool)
            .await
        }
    }
}
