//! Reading a database a backup came from or went to, on one connection of its own: a backup
//! file (SQLite, opened read-only and immutable), or the database a restore is aimed at
//! (SQLite file or PostgreSQL URL): which tables it has, its census, SQLite's integrity check.

use std::path::Path;

use sqlx::any::AnyConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyConnection, ConnectOptions, Connection};

use super::census::{self, Census};
use crate::db::{connect_error, install_drivers};
use crate::{Backend, Result, StoreError};

/// One connection to a database being inspected.
#[derive(Debug)]
pub struct DatabaseReader {
    connection: AnyConnection,
    backend: Backend,
}

/// How a SQLite file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteOpen {
    /// A backup nobody writes: read-only and immutable, so SQLite leaves no `-journal` or
    /// `-shm` file beside it (a backup directory may be read-only).
    Backup,
    /// A database that may be in use: read-only, with SQLite's usual locking.
    Live,
}

impl DatabaseReader {
    /// Opens the SQLite file at `path`, which must exist.
    pub async fn sqlite(path: &Path, open: SqliteOpen) -> Result<DatabaseReader> {
        install_drivers();
        let absolute = std::fs::canonicalize(path).map_err(|e| {
            StoreError::Config(format!(
                "cannot open the SQLite file {}: {e}",
                path.display()
            ))
        })?;
        let url = SqliteConnectOptions::new()
            .filename(&absolute)
            .read_only(true)
            .immutable(open == SqliteOpen::Backup)
            .to_url_lossy();
        let options = AnyConnectOptions::from_url(&url)
            .map_err(|e| connect_error(Backend::Sqlite, url.as_str(), &e))?;
        let connection = AnyConnection::connect_with(&options)
            .await
            .map_err(|e| connect_error(Backend::Sqlite, url.as_str(), &e))?;
        Ok(DatabaseReader {
            connection,
            backend: Backend::Sqlite,
        })
    }

    /// Connects to the PostgreSQL database at `url`.
    pub async fn postgres(url: &str) -> Result<DatabaseReader> {
        install_drivers();
        let connection = AnyConnection::connect(url)
            .await
            .map_err(|e| connect_error(Backend::Postgres, url, &e))?;
        Ok(DatabaseReader {
            connection,
            backend: Backend::Postgres,
        })
    }

    /// The names of the tables it has, as a [`Census`] names them.
    pub async fn table_names(&mut self) -> Result<Vec<String>> {
        Ok(census::list_tables(&mut self.connection, self.backend)
            .await?
            .into_iter()
            .map(|t| t.label)
            .collect())
    }

    /// Every table's rows; on PostgreSQL from one repeatable-read snapshot.
    pub async fn census(&mut self) -> Result<Census> {
        match self.backend {
            Backend::Sqlite => census::take(&mut self.connection, Backend::Sqlite).await,
            Backend::Postgres => {
                let mut transaction = self.connection.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *transaction)
                    .await?;
                let census = census::take(&mut transaction, Backend::Postgres).await?;
                transaction.rollback().await?;
                Ok(census)
            }
        }
    }

    /// SQLite's `PRAGMA integrity_check`: empty when the file is sound, else the problems it
    /// found (at most 100). Not available on PostgreSQL.
    pub async fn integrity_problems(&mut self) -> Result<Vec<String>> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Invalid(
                "PRAGMA integrity_check needs SQLite".to_owned(),
            ));
        }
        let lines: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&mut self.connection)
            .await?;
        Ok(lines.into_iter().filter(|line| line != "ok").collect())
    }

    /// Closes the connection.
    pub async fn close(self) {
        let _ = self.connection.close().await;
    }
}
