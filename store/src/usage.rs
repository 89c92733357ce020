//! Metered traffic: hourly counters per account, exit and country (plus error counts per
//! code), added to in batches by the gateway's flusher and read back by the dashboard.

use std::collections::BTreeMap;

use sqlx::Any;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::QueryAs;

use crate::{AccountId, Db, ExitId, HOUR_MS, Result, StoreError};

/// Traffic to add to one hourly bucket. The gateway counts in memory and flushes these.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UsageDelta {
    /// Whose traffic.
    pub account_id: AccountId,
    /// Any time within the hour (epoch ms); floored to the hour when stored.
    pub at_ms: i64,
    /// The exit used; [`ExitId::DIRECT`] for direct egress.
    pub exit_id: ExitId,
    /// Lower-case ISO country of the exit, `""` when unknown.
    pub country: String,
    /// Bytes client → destination.
    pub bytes_up: i64,
    /// Bytes destination → client.
    pub bytes_down: i64,
    /// Requests (HTTP requests or tunnels).
    pub requests: i64,
    /// Failed requests.
    pub errors: i64,
    /// Failed requests by error code (e.g. `upstream_failed`), added to
    /// `usage_errors_hourly`.
    pub error_codes: Vec<(String, i64)>,
    /// The sticky-session id the traffic ran under, `""` for none; a non-empty one is also
    /// added to `usage_sessions_hourly`.
    pub session: String,
}

impl UsageDelta {
    /// An empty delta for the account's bucket at `at_ms`, direct egress, unknown country;
    /// fill in the counters with struct update syntax.
    pub fn new(account_id: AccountId, at_ms: i64) -> Self {
        Self {
            account_id,
            at_ms,
            exit_id: ExitId::DIRECT,
            country: String::new(),
            bytes_up: 0,
            bytes_down: 0,
            requests: 0,
            errors: 0,
            error_codes: Vec::new(),
            session: String::new(),
        }
    }
}

/// Summed counters.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow,
)]
pub struct UsageTotals {
    /// Bytes client → destination.
    pub bytes_up: i64,
    /// Bytes destination → client.
    pub bytes_down: i64,
    /// Requests.
    pub requests: i64,
    /// Failed requests.
    pub errors: i64,
}

impl UsageTotals {
    /// Bytes both ways: what plan bandwidth counts.
    pub fn bytes(&self) -> i64 {
        self.bytes_up.saturating_add(self.bytes_down)
    }

    fn add(&mut self, other: &UsageTotals) {
        self.bytes_up = self.bytes_up.saturating_add(other.bytes_up);
        self.bytes_down = self.bytes_down.saturating_add(other.bytes_down);
        self.requests = self.requests.saturating_add(other.requests);
        self.errors = self.errors.saturating_add(other.errors);
    }
}

/// One hour of the series.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow,
)]
pub struct HourlyUsage {
    /// Start of the hour (epoch ms).
    pub hour_start: i64,
    /// The hour's counters.
    #[sqlx(flatten)]
    pub totals: UsageTotals,
}

/// One country's share.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct CountryUsage {
    /// Lower-case ISO code, `""` when unknown.
    pub country: String,
    /// The country's counters.
    #[sqlx(flatten)]
    pub totals: UsageTotals,
}

/// One sticky session's share.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct SessionUsage {
    /// The session id from the proxy username.
    pub session: String,
    /// The session's counters.
    #[sqlx(flatten)]
    pub totals: UsageTotals,
}

/// Longest session id (the username grammar's limit).
const MAX_SESSION_LEN: usize = 32;

/// The start of the hour holding `ms`.
pub fn hour_floor(ms: i64) -> i64 {
    ms - ms.rem_euclid(HOUR_MS)
}

/// Adds the deltas to the hourly tables in one transaction: all or nothing. Deltas for the
/// same bucket are merged first, and buckets are written in key order so concurrent flushes
/// lock rows in the same order. For counts that may be retried, see [`record_batch`].
pub async fn record(db: &Db, deltas: &[UsageDelta]) -> Result<()> {
    write(db, None, deltas).await.map(|_| ())
}

/// What [`record_batch`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The batch's counts were added.
    Written,
    /// A batch with this id was recorded before: nothing was added.
    AlreadyWritten,
}

/// Longest batch id.
const MAX_BATCH_ID_LEN: usize = 80;

/// Like [`record`], for a batch with an id that is stored in the same transaction: a batch
/// whose id was stored before adds nothing ([`Recorded::AlreadyWritten`]). So a gateway that
/// never learnt whether its flush committed (or a spool replayed after a crash) can send the
/// batch again without counting anything twice. Ids are kept for [`BATCH_IDS_KEPT_MS`].
pub async fn record_batch(
    db: &Db,
    batch_id: &str,
    deltas: &[UsageDelta],
    now_ms: i64,
) -> Result<Recorded> {
    if batch_id.is_empty()
        || batch_id.len() > MAX_BATCH_ID_LEN
        || !batch_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(StoreError::Invalid(format!(
            "a usage batch id is 1 to {MAX_BATCH_ID_LEN} letters, digits, '-' or '_'"
        )));
    }
    write(db, Some((batch_id, now_ms)), deltas).await
}

/// How long stored batch ids are kept: longer than any retry or spool replay waits.
pub const BATCH_IDS_KEPT_MS: i64 = 30 * crate::DAY_MS;

/// Forgets batch ids recorded before `before_ms`; returns how many.
pub async fn prune_batch_ids(db: &Db, before_ms: i64) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM usage_batches WHERE recorded_at < $1")
            .bind(before_ms)
            .execute(db.pool())
            .await?
            .rows_affected(),
    )
}

async fn write(db: &Db, batch: Option<(&str, i64)>, deltas: &[UsageDelta]) -> Result<Recorded> {
    let mut buckets = Buckets::new();
    let mut codes = Codes::new();
    let mut sessions = Sessions::new();
    for delta in deltas {
        let counters = [
            delta.bytes_up,
            delta.bytes_down,
            delta.requests,
            delta.errors,
        ];
        if counters.iter().any(|c| *c < 0) || delta.error_codes.iter().any(|(_, n)| *n < 0) {
            return Err(StoreError::Invalid(
                "usage counters cannot be negative".to_owned(),
            ));
        }
        if delta.session.len() > MAX_SESSION_LEN {
            return Err(StoreError::Invalid(format!(
                "a session id has at most {MAX_SESSION_LEN} characters"
            )));
        }
        let hour = hour_floor(delta.at_ms);
        let country = delta.country.trim().to_ascii_lowercase();
        let totals = UsageTotals {
            bytes_up: delta.bytes_up,
            bytes_down: delta.bytes_down,
            requests: delta.requests,
            errors: delta.errors,
        };
        buckets
            .entry((delta.account_id, hour, delta.exit_id, country))
            .or_default()
            .add(&totals);
        if !delta.session.is_empty() {
            sessions
                .entry((delta.account_id, hour, delta.session.clone()))
                .or_default()
                .add(&totals);
        }
        for (code, count) in &delta.error_codes {
            let total = codes
                .entry((delta.account_id, hour, code.clone()))
                .or_default();
            *total = total.saturating_add(*count);
        }
    }
    if buckets.is_empty() && codes.is_empty() {
        return Ok(Recorded::Written);
    }

    let mut connection = db.pool().acquire().await?;
    let written = write_on(&mut connection, batch, &buckets, &codes, &sessions).await;
    if let Err(StoreError::StorageFull(_)) = &written {
        // A connection that met a full disk may keep SQLite's write lock (its transaction
        // neither committed nor rolled back): every later write would then wait for it and
        // fail as "database is locked" even once space is freed. It is closed, not reused.
        let _ = connection.close().await;
    }
    written
}

type Buckets = BTreeMap<(AccountId, i64, ExitId, String), UsageTotals>;
type Codes = BTreeMap<(AccountId, i64, String), i64>;
type Sessions = BTreeMap<(AccountId, i64, String), UsageTotals>;

async fn write_on(
    connection: &mut sqlx::AnyConnection,
    batch: Option<(&str, i64)>,
    buckets: &Buckets,
    codes: &Codes,
    sessions: &Sessions,
) -> Result<Recorded> {
    let mut tx = sqlx::Connection::begin(connection).await?;
    if let Some((id, now_ms)) = batch {
        let new = sqlx::query(
            "INSERT INTO usage_batches (id, recorded_at) VALUES ($1, $2) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if new == 0 {
            tx.rollback().await?;
            return Ok(Recorded::AlreadyWritten);
        }
    }
    for ((account, hour, exit, country), t) in buckets {
        sqlx::query(
            "INSERT INTO usage_hourly \
                 (account_id, hour_start, exit_id, country, bytes_up, bytes_down, requests, errors) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (account_id, hour_start, exit_id, country) DO UPDATE SET \
                 bytes_up = usage_hourly.bytes_up + excluded.bytes_up, \
                 bytes_down = usage_hourly.bytes_down + excluded.bytes_down, \
                 requests = usage_hourly.requests + excluded.requests, \
                 errors = usage_hourly.errors + excluded.errors",
        )
        .bind(*account)
        .bind(*hour)
        .bind(*exit)
        .bind(country)
        .bind(t.bytes_up)
        .bind(t.bytes_down)
        .bind(t.requests)
        .bind(t.errors)
        .execute(&mut *tx)
        .await?;
    }
    for ((account, hour, code), count) in codes {
        sqlx::query(
            "INSERT INTO usage_errors_hourly (account_id, hour_start, code, count) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, hour_start, code) DO UPDATE SET \
                 count = usage_errors_hourly.count + excluded.count",
        )
        .bind(*account)
        .bind(*hour)
        .bind(code)
        .bind(*count)
        .execute(&mut *tx)
        .await?;
    }
    for ((account, hour, session), t) in sessions {
        sqlx::query(
            "INSERT INTO usage_sessions_hourly \
                 (account_id, hour_start, session, bytes_up, bytes_down, requests, errors) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (account_id, hour_start, session) DO UPDATE SET \
                 bytes_up = usage_sessions_hourly.bytes_up + excluded.bytes_up, \
                 bytes_down = usage_sessions_hourly.bytes_down + excluded.bytes_down, \
                 requests = usage_sessions_hourly.requests + excluded.requests, \
                 errors = usage_sessions_hourly.errors + excluded.errors",
        )
        .bind(*account)
        .bind(*hour)
        .bind(session)
        .bind(t.bytes_up)
        .bind(t.bytes_down)
        .bind(t.requests)
        .bind(t.errors)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Recorded::Written)
}

const SUMS: &str = "CAST(COALESCE(SUM(bytes_up), 0) AS BIGINT) AS bytes_up, \
                    CAST(COALESCE(SUM(bytes_down), 0) AS BIGINT) AS bytes_down, \
                    CAST(COALESCE(SUM(requests), 0) AS BIGINT) AS requests, \
                    CAST(COALESCE(SUM(errors), 0) AS BIGINT) AS errors";

/// The condition that keeps the account's (`$1`) hours starting in `[$2, $3)`.
const WINDOW: &str = "account_id = $1 AND hour_start >= $2 AND hour_start < $3";

/// `sql` with the account and the window `[from_ms, to_ms)` bound as `$1`, `$2` and `$3` (see
/// [`WINDOW`]).
fn in_window<'q, T>(
    sql: &'q str,
    account: AccountId,
    from_ms: i64,
    to_ms: i64,
) -> QueryAs<'q, Any, T, AnyArguments<'q>>
where
    T: for<'r> sqlx::FromRow<'r, AnyRow>,
{
    sqlx::query_as(sql).bind(account).bind(from_ms).bind(to_ms)
}

/// One group of an account's window: which `table`, the column it is grouped by, the order
/// of the groups and at most how many (`None`: all).
struct Grouping {
    table: &'static str,
    key: &'static str,
    order: &'static str,
    limit: Option<i64>,
}

/// The account's counters in `[from_ms, to_ms)`, summed per group.
async fn grouped<T>(
    db: &Db,
    grouping: Grouping,
    account: AccountId,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin,
{
    let Grouping {
        table,
        key,
        order,
        limit,
    } = grouping;
    let limit_clause = if limit.is_some() { " LIMIT $4" } else { "" };
    let sql = format!(
        "SELECT {key}, {SUMS} FROM {table} WHERE {WINDOW} GROUP BY {key} ORDER BY {order}\
         {limit_clause}"
    );
    let query = in_window(&sql, account, from_ms, to_ms);
    let query = match limit {
        Some(limit) => query.bind(limit),
        None => query,
    };
    Ok(query.fetch_all(db.pool()).await?)
}

/// The account's counters for hours starting in `[from_ms, to_ms)`.
pub async fn totals(db: &Db, account: AccountId, from_ms: i64, to_ms: i64) -> Result<UsageTotals> {
    // SUM of BIGINT is NUMERIC on PostgreSQL, which Any cannot decode: hence the casts.
    let sql = format!("SELECT {SUMS} FROM usage_hourly WHERE {WINDOW}");
    Ok(in_window(&sql, account, from_ms, to_ms)
        .fetch_one(db.pool())
        .await?)
}

/// The account's counters per hour in `[from_ms, to_ms)`, oldest first. Hours without traffic
/// are absent; the chart fills them with zeros.
pub async fn hourly_series(
    db: &Db,
    account: AccountId,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<HourlyUsage>> {
    let hours = Grouping {
        table: "usage_hourly",
        key: "hour_start",
        order: "hour_start",
        limit: None,
    };
    grouped(db, hours, account, from_ms, to_ms).await
}

/// The account's counters per exit country in `[from_ms, to_ms)`, most bytes first.
pub async fn by_country(
    db: &Db,
    account: AccountId,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<CountryUsage>> {
    let countries = Grouping {
        table: "usage_hourly",
        key: "country",
        order: "SUM(bytes_up + bytes_down) DESC, country",
        limit: None,
    };
    grouped(db, countries, account, from_ms, to_ms).await
}

/// The account's busiest sticky sessions in `[from_ms, to_ms)`, most bytes first, at most
/// `limit` of them.
pub async fn by_session(
    db: &Db,
    account: AccountId,
    from_ms: i64,
    to_ms: i64,
    limit: i64,
) -> Result<Vec<SessionUsage>> {
    let sessions = Grouping {
        table: "usage_sessions_hourly",
        key: "session",
        order: "SUM(bytes_up + bytes_down) DESC, session",
        limit: Some(limit),
    };
    grouped(db, sessions, account, from_ms, to_ms).await
}

/// The account's failed requests per error code in `[from_ms, to_ms)`, most frequent first.
pub async fn errors_by_code(
    db: &Db,
    account: AccountId,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<(String, i64)>> {
    let sql = format!(
        "SELECT code, CAST(SUM(count) AS BIGINT) AS count FROM usage_errors_hourly \
         WHERE {WINDOW} GROUP BY code ORDER BY SUM(count) DESC, code"
    );
    Ok(in_window(&sql, account, from_ms, to_ms)
        .fetch_all(db.pool())
        .await?)
}

/// Deletes hourly rows older than `before_ms` (retention); returns how many went.
pub async fn purge_before(db: &Db, before_ms: i64) -> Result<u64> {
    let mut tx = db.pool().begin().await?;
    let usage = sqlx::query("DELETE FROM usage_hourly WHERE hour_start < $1")
        .bind(before_ms)
        .execute(&mut *tx)
        .await?;
    let errors = sqlx::query("DELETE FROM usage_errors_hourly WHERE hour_start < $1")
        .bind(before_ms)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM usage_sessions_hourly WHERE hour_start < $1")
        .bind(before_ms)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(usage.rows_affected() + errors.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_floor_down_including_before_the_epoch() {
        assert_eq!(hour_floor(0), 0);
        assert_eq!(hour_floor(HOUR_MS - 1), 0);
        assert_eq!(hour_floor(HOUR_MS), HOUR_MS);
        assert_eq!(hour_floor(1_700_000_123_456), 1_699_999_200_000);
        assert_eq!(hour_floor(-1), -HOUR_MS);
    }
}
