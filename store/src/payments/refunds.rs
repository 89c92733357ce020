//! Refunds we owe: automatic renewals that were paid for a subscription the customer had
//! replaced by then (`superseded`, see [`super::fulfil`]). Housekeeping asks
//! Paystack for each refund until Paystack takes the request; `refund.processed` then marks
//! the payment `refunded` ([`super::mark_refunded`]).

use super::{COLUMNS, Payment};
use crate::{Db, Page, PaymentId, Result};

/// Superseded payments whose refund has not been asked for yet, oldest first.
pub async fn owed(db: &Db, limit: i64) -> Result<Vec<Payment>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM payments \
         WHERE status = 'superseded' AND refund_requested_at IS NULL \
         ORDER BY updated_at, id LIMIT $1"
    );
    Ok(sqlx::query_as::<_, Payment>(&sql)
        .bind(limit.clamp(1, Page::MAX_LIMIT))
        .fetch_all(db.pool())
        .await?)
}

/// Records that Paystack took the refund request for `id` (also when its `refund.processed`
/// overtook the answer and the payment is `refunded` already). Returns false when it had been
/// recorded before (another run asked first).
pub async fn mark_requested(db: &Db, id: PaymentId, now_ms: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE payments SET refund_requested_at = $1, updated_at = $1 \
         WHERE id = $2 AND status IN ('superseded', 'refunded') AND refund_requested_at IS NULL",
    )
    .bind(now_ms)
    .bind(id)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}
