//! The activity log: sign-ins, credential changes, payments… shown to the customer on
//! `/activity`, newest first.

use crate::{AccountId, ActivityId, Db, Page, Result, StoreError};

/// Longest `kind`, `ip` and `user_agent` kept; longer user agents are cut.
const MAX_KIND_LEN: usize = 64;
const MAX_IP_LEN: usize = 64;
const MAX_USER_AGENT_LEN: usize = 512;

/// One logged event.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct Activity {
    /// The entry's id.
    pub id: ActivityId,
    /// Whose account it concerns; `None` for events without one (sign-in to an unknown email).
    pub account_id: Option<AccountId>,
    /// Dotted event name, e.g. `auth.login`, `credentials.regenerated`.
    pub kind: String,
    /// Event details (JSON object).
    #[sqlx(try_from = "Detail")]
    pub detail: serde_json::Value,
    /// Client address.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Epoch milliseconds.
    pub created_at: i64,
}

/// The `detail` column as read. Rows are only written by [`record`], so it is JSON; text that
/// is not is kept as a JSON string rather than failing the whole page.
struct Detail(serde_json::Value);

impl sqlx::Type<sqlx::Any> for Detail {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <String as sqlx::Type<sqlx::Any>>::type_info()
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Any> for Detail {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let raw = <String as sqlx::Decode<'r, sqlx::Any>>::decode(value)?;
        Ok(Detail(
            serde_json::from_str(&raw).unwrap_or(serde_json::Value::String(raw)),
        ))
    }
}

impl From<Detail> for serde_json::Value {
    fn from(detail: Detail) -> Self {
        detail.0
    }
}

/// An event to log.
#[derive(Debug, Clone, PartialEq)]
pub struct NewActivity<'a> {
    /// Whose account it concerns, if any.
    pub account_id: Option<AccountId>,
    /// Dotted event name.
    pub kind: &'a str,
    /// Details; `Value::Null` is stored as `{}`.
    pub detail: serde_json::Value,
    /// Client address.
    pub ip: Option<&'a str>,
    /// Client user agent (cut to 512 characters).
    pub user_agent: Option<&'a str>,
}

impl<'a> NewActivity<'a> {
    /// An event of `kind` for `account`, with no details or client information.
    pub fn new(account_id: Option<AccountId>, kind: &'a str) -> Self {
        Self {
            account_id,
            kind,
            detail: serde_json::Value::Null,
            ip: None,
            user_agent: None,
        }
    }
}

fn cut(s: &str, max_chars: usize) -> &str {
    match s.char_indices().nth(max_chars) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

/// Logs an event.
pub async fn record(db: &Db, event: &NewActivity<'_>, now_ms: i64) -> Result<ActivityId> {
    let kind = event.kind.trim();
    if kind.is_empty() || kind.len() > MAX_KIND_LEN {
        return Err(StoreError::Invalid(format!(
            "an activity kind has 1 to {MAX_KIND_LEN} characters"
        )));
    }
    let detail = match &event.detail {
        serde_json::Value::Null => "{}".to_owned(),
        value => value.to_string(),
    };
    Ok(sqlx::query_scalar::<_, ActivityId>(
        "INSERT INTO activity (account_id, kind, detail, ip, user_agent, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(event.account_id)
    .bind(kind)
    .bind(detail)
    .bind(event.ip.map(|ip| cut(ip, MAX_IP_LEN)))
    .bind(event.user_agent.map(|ua| cut(ua, MAX_USER_AGENT_LEN)))
    .bind(now_ms)
    .fetch_one(db.pool())
    .await?)
}

/// Which events [`list`] and [`count`] return: all, or those whose kind is one of these
/// names or starts with one of them followed by `.` (`sign_in` matches `sign_in.failed`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindFilter<'a>(pub &'a [&'a str]);

impl KindFilter<'_> {
    /// Every event.
    pub const ALL: KindFilter<'static> = KindFilter(&[]);

    /// The `WHERE` condition on `kind`, its placeholders numbered from `first`, and the values
    /// to bind in order.
    fn condition(self, first: usize) -> (String, Vec<String>) {
        if self.0.is_empty() {
            return ("1 = 1".to_owned(), Vec::new());
        }
        let mut parts = Vec::new();
        let mut binds = Vec::new();
        for (i, kind) in self.0.iter().enumerate() {
            let n = first + 2 * i;
            parts.push(format!("kind = ${n} OR kind LIKE ${}", n + 1));
            binds.push((*kind).to_owned());
            // `_` is a LIKE wildcard: escape it so `sign_in` cannot match `signxin.…`.
            binds.push(format!("{}.%", kind.replace('_', "\\_")));
        }
        let joined = parts
            .iter()
            .map(|p| format!("({p} ESCAPE '\\')"))
            .collect::<Vec<_>>()
            .join(" OR ");
        (format!("({joined})"), binds)
    }
}

/// The account's events, newest first, those `kinds` lets through.
pub async fn list(
    db: &Db,
    account: AccountId,
    kinds: KindFilter<'_>,
    page: Page,
) -> Result<Vec<Activity>> {
    let (condition, binds) = kinds.condition(2);
    let n = 2 + binds.len();
    let sql = format!(
        "SELECT id, account_id, kind, detail, ip, user_agent, created_at FROM activity \
         WHERE account_id = $1 AND {condition} \
         ORDER BY created_at DESC, id DESC LIMIT ${n} OFFSET ${}",
        n + 1
    );
    let mut query = sqlx::query_as::<_, Activity>(&sql).bind(account);
    for b in binds {
        query = query.bind(b);
    }
    Ok(query
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(db.pool())
        .await?)
}

/// Where a page of [`list_after`] starts: just after the event with this time and id (the
/// last one of the previous page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The previous page's last `created_at`.
    pub created_at: i64,
    /// The previous page's last id.
    pub id: ActivityId,
}

/// The account's events, newest first, up to `limit` (clamped like [`Page`]), starting after
/// `cursor` (from the newest when `None`). Keyset pagination on `(created_at, id)`: events
/// logged while a client pages do not shift the pages it has not read yet.
pub async fn list_after(
    db: &Db,
    account: AccountId,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<Vec<Activity>> {
    let limit = Page::first(limit).limit();
    let rows = match cursor {
        None => {
            sqlx::query_as::<_, Activity>(
                "SELECT id, account_id, kind, detail, ip, user_agent, created_at FROM activity \
                 WHERE account_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
            )
            .bind(account)
            .bind(limit)
            .fetch_all(db.pool())
            .await?
        }
        Some(cursor) => {
            sqlx::query_as::<_, Activity>(
                "SELECT id, account_id, kind, detail, ip, user_agent, created_at FROM activity \
                 WHERE account_id = $1 \
                   AND (created_at < $2 OR (created_at = $2 AND id < $3)) \
                 ORDER BY created_at DESC, id DESC LIMIT $4",
            )
            .bind(account)
            .bind(cursor.created_at)
            .bind(cursor.id)
            .bind(limit)
            .fetch_all(db.pool())
            .await?
        }
    };
    Ok(rows)
}

/// How many events [`list`] can page through.
pub async fn count(db: &Db, account: AccountId, kinds: KindFilter<'_>) -> Result<i64> {
    let (condition, binds) = kinds.condition(2);
    let sql = format!("SELECT COUNT(*) FROM activity WHERE account_id = $1 AND {condition}");
    let mut query = sqlx::query_scalar::<_, i64>(&sql).bind(account);
    for b in binds {
        query = query.bind(b);
    }
    Ok(query.fetch_one(db.pool()).await?)
}

/// Deletes events older than `before_ms` (retention); returns how many went.
pub async fn purge_before(db: &Db, before_ms: i64) -> Result<u64> {
    let done = sqlx::query("DELETE FROM activity WHERE created_at < $1")
        .bind(before_ms)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}
