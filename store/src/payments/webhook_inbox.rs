//! The inbox of Paystack's webhook deliveries: each stored once by its key, so Paystack's
//! retries are idempotent, then marked handled or failed; failed ones are retried from here.

use crate::{Db, Page, Result, WebhookEventId, found};

/// A received webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct WebhookEvent {
    /// The row's id.
    pub id: WebhookEventId,
    /// What makes a delivery unique (e.g. event name plus transaction or subscription id).
    pub event_key: String,
    /// The event name, e.g. `charge.success`.
    pub event: String,
    /// The raw JSON body.
    pub payload: String,
    /// Epoch milliseconds.
    pub received_at: i64,
    /// When handling succeeded.
    pub processed_at: Option<i64>,
    /// Handling attempts so far.
    pub attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

const EVENT_COLUMNS: &str =
    "id, event_key, event, payload, received_at, processed_at, attempts, last_error";

/// Stores a delivery unless one with the same key was stored before. Returns true when it is
/// new, i.e. when the caller should handle it.
pub async fn insert_if_new(
    db: &Db,
    event_key: &str,
    event: &str,
    payload: &str,
    now_ms: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO webhook_events (event_key, event, payload, received_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (event_key) DO NOTHING",
    )
    .bind(event_key)
    .bind(event)
    .bind(payload)
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The delivery with this key.
pub async fn event_by_key(db: &Db, event_key: &str) -> Result<Option<WebhookEvent>> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM webhook_events WHERE event_key = $1");
    Ok(sqlx::query_as::<_, WebhookEvent>(&sql)
        .bind(event_key)
        .fetch_optional(db.pool())
        .await?)
}

/// Records that handling the delivery succeeded (counting the attempt).
pub async fn mark_processed(db: &Db, event_key: &str, now_ms: i64) -> Result<()> {
    let done = sqlx::query(
        "UPDATE webhook_events SET processed_at = $1, attempts = attempts + 1, last_error = NULL \
         WHERE event_key = $2",
    )
    .bind(now_ms)
    .bind(event_key)
    .execute(db.pool())
    .await?;
    found(done.rows_affected())
}

/// Records a failed handling attempt, to be retried from [`unprocessed`].
pub async fn mark_failed(db: &Db, event_key: &str, error: &str) -> Result<()> {
    let done = sqlx::query(
        "UPDATE webhook_events SET attempts = attempts + 1, last_error = $1 WHERE event_key = $2",
    )
    .bind(error)
    .bind(event_key)
    .execute(db.pool())
    .await?;
    found(done.rows_affected())
}

/// Deliveries not handled yet with fewer than `max_attempts` attempts, oldest first.
pub async fn unprocessed(db: &Db, max_attempts: i64, limit: i64) -> Result<Vec<WebhookEvent>> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM webhook_events \
         WHERE processed_at IS NULL AND attempts < $1 ORDER BY received_at, id LIMIT $2"
    );
    Ok(sqlx::query_as::<_, WebhookEvent>(&sql)
        .bind(max_attempts)
        .bind(limit.clamp(1, Page::MAX_LIMIT))
        .fetch_all(db.pool())
        .await?)
}
