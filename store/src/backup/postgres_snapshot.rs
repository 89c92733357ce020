//! A PostgreSQL snapshot held open while a backup is made of it: a repeatable-read, read-only
//! transaction whose snapshot is exported (`pg_export_snapshot()`), so `pg_dump --snapshot`
//! dumps exactly what the census in the same transaction counts, however much traffic the
//! service meters meanwhile.

use sqlx::{Any, Transaction};

use super::census::{self, Census};
use crate::{Backend, Db, Result, StoreError};

/// An open snapshot; it lasts until [`PostgresSnapshot::end`] (or drop, which rolls back).
#[derive(Debug)]
pub struct PostgresSnapshot {
    transaction: Transaction<'static, Any>,
    id: String,
}

impl PostgresSnapshot {
    /// Opens the transaction and exports its snapshot. `db` must be PostgreSQL.
    pub async fn begin(db: &Db) -> Result<PostgresSnapshot> {
        if db.backend() != Backend::Postgres {
            return Err(StoreError::Invalid(
                "an exported snapshot needs PostgreSQL".to_owned(),
            ));
        }
        let mut transaction = db.pool().begin().await?;
        // the first statement of the transaction, so it applies to it
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *transaction)
            .await?;
        let id: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
            .fetch_one(&mut *transaction)
            .await?;
        Ok(PostgresSnapshot { transaction, id })
    }

    /// The snapshot's id, for `pg_dump --snapshot=ID`; valid while this is open.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Every table's rows as this snapshot sees them.
    pub async fn census(&mut self) -> Result<Census> {
        census::take(&mut self.transaction, Backend::Postgres).await
    }

    /// Ends the transaction (nothing was written, so it rolls back).
    pub async fn end(self) -> Result<()> {
        self.transaction.rollback().await?;
        Ok(())
    }
}
