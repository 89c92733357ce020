//! The SQLite backup itself: `VACUUM INTO` writes a consistent, compacted copy of the live
//! database from one read transaction, while the service keeps writing (WAL mode lets readers
//! and the writer go on side by side). The copy is a plain rollback-journal database that
//! opens on its own, without the `-wal` file the live one depends on.

use std::path::Path;

use crate::{Backend, Db, Result, StoreError};

/// Writes a copy of `db` to `path`, which must not exist yet.
pub async fn vacuum_into(db: &Db, path: &Path) -> Result<()> {
    if db.backend() != Backend::Sqlite {
        return Err(StoreError::Invalid("VACUUM INTO needs SQLite".to_owned()));
    }
    let target = path.to_str().ok_or_else(|| {
        StoreError::Invalid(format!(
            "the backup path {} is not UTF-8, which SQLite needs",
            path.display()
        ))
    })?;
    sqlx::query("VACUUM INTO $1")
        .bind(target)
        .execute(db.pool())
        .await?;
    Ok(())
}
