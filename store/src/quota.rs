//! Quota warnings: accounts whose use of the period's bandwidth has reached the threshold they
//! chose in Settings, each warned once per period.

use crate::{AccountId, Db, Result, subscriptions};

/// An account past its warning threshold, not yet warned this period.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct QuotaWarning {
    /// The account.
    pub account_id: AccountId,
    /// End of the period the warning is for (what [`mark_warned`] records).
    pub period_end: i64,
    /// Bytes used in the period so far (as flushed).
    pub bytes_used: i64,
    /// The plan's bandwidth per period.
    pub bandwidth_bytes: i64,
    /// The account's threshold in percent.
    #[sqlx(rename = "quota_warning_percent")]
    pub threshold_percent: i64,
}

impl QuotaWarning {
    /// The share of the bandwidth used, in whole percent (rounded down).
    pub fn percent_used(&self) -> i64 {
        if self.bandwidth_bytes <= 0 {
            return 100;
        }
        let used = i128::from(self.bytes_used) * 100 / i128::from(self.bandwidth_bytes);
        i64::try_from(used).unwrap_or(i64::MAX)
    }
}

/// Accounts with a live, metered plan whose usage this period has reached their threshold
/// and who have not been warned for this period. A threshold of 0 turns warnings off.
pub async fn warnings_due(db: &Db, now_ms: i64) -> Result<Vec<QuotaWarning>> {
    let sql = format!(
        "SELECT a.id AS account_id, a.quota_warning_percent, s.period_end, p.bandwidth_bytes, \
                {used} AS bytes_used \
           FROM accounts a \
           JOIN subscriptions s ON s.id = {newest} \
           JOIN plans p ON p.id = s.plan_id \
          WHERE a.quota_warning_percent > 0 AND p.bandwidth_bytes IS NOT NULL \
            AND (a.quota_warned_period_end IS NULL OR a.quota_warned_period_end <> s.period_end) \
          ORDER BY a.id",
        used = subscriptions::period_bytes_used("a.id", "s", "$1"),
        newest = subscriptions::newest_live_id("a.id", "$1"),
    );
    let rows = sqlx::query_as::<_, QuotaWarning>(&sql)
        .bind(now_ms)
        .fetch_all(db.pool())
        .await?;
    Ok(rows
        .into_iter()
        .filter(|w| {
            i128::from(w.bytes_used) * 100
                >= i128::from(w.bandwidth_bytes) * i128::from(w.threshold_percent)
        })
        .collect())
}

/// Records that the account was warned for the period ending at `period_end`. Returns false
/// when it already was (another run got there first), so each period warns once.
pub async fn mark_warned(db: &Db, account: AccountId, period_end: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE accounts SET quota_warned_period_end = $1 \
         WHERE id = $2 AND (quota_warned_period_end IS NULL OR quota_warned_period_end <> $1)",
    )
    .bind(period_end)
    .bind(account)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}
