//! `StoreError`: the one error type of the data layer, and how driver errors map onto it.

use sqlx::error::ErrorKind;

/// What went wrong in the store. Callers map it to a response once: `NotFound` → 404,
/// `Conflict` → 409, `Invalid` → 400/422, the rest → 500 with the detail only in the log.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row asked for does not exist, or a row it refers to does not.
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write, e.g. the email is registered already.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The input breaks a rule of the store (bad email, CIDR, URL, negative counter…).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The database's disk is full (SQLite's `SQLITE_FULL`, PostgreSQL's `disk_full`): the
    /// write was refused whole, reads still work.
    #[error("the database's disk is full: {0}")]
    StorageFull(String),
    /// Any other database failure.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// A secret sealed at rest could not be opened (wrong or missing key, altered value, or
    /// plaintext where a sealed value belongs). Never shows the value.
    #[error("{0}")]
    Sealed(#[from] crate::sealing::SealError),
    /// Applying or reverting a migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database URL is unusable or the database cannot be reached. One line, with any
    /// password in the URL redacted.
    #[error("{0}")]
    Config(String),
}

impl StoreError {
    /// Wraps a driver error, turning a unique violation into `Conflict(what)`.
    pub(crate) fn conflict_as(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StoreError {
        let what = what.into();
        move |err| {
            if is_unique_violation(&err) {
                StoreError::Conflict(what)
            } else {
                StoreError::from(err)
            }
        }
    }
}

/// Whether the driver error is a unique-constraint violation, on either engine.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| matches!(db.kind(), ErrorKind::UniqueViolation))
}

/// SQLite's `SQLITE_FULL` (13, also what it answers when a write meets `ENOSPC`) and
/// PostgreSQL's `disk_full` (53100).
fn is_storage_full(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| code == "13" || code == "53100")
}

impl StoreError {
    /// Whether the database could not be reached or did not answer (as opposed to refusing
    /// this one request): the connection pool timed out or closed, or the connection broke.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
            )
        )
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        let kind = err
            .as_database_error()
            .map(|db| (db.kind(), db.message().to_owned()));
        match (&err, kind) {
            (sqlx::Error::RowNotFound, _) => StoreError::NotFound,
            (_, Some((ErrorKind::UniqueViolation, message))) => StoreError::Conflict(message),
            // Every write that can break a foreign key refers to an account, plan or
            // subscription by id: the referenced row is missing.
            (_, Some((ErrorKind::ForeignKeyViolation, _))) => StoreError::NotFound,
            (_, Some((ErrorKind::CheckViolation, message))) => StoreError::Invalid(message),
            (_, Some((ErrorKind::NotNullViolation, message))) => StoreError::Invalid(message),
            (_, Some((_, message))) if is_storage_full(&err) => StoreError::StorageFull(message),
            _ => StoreError::Database(err),
        }
    }
}
