//! The record of backups taken: `atlantic backup create` adds a row after each backup it
//! completes (often from a cron job, a process of its own), and the serving process reads the
//! newest one to export when the last backup succeeded and how big it was. What a backup
//! holds is in its manifest next to the file, not here.

use crate::{Db, Result};

/// One completed backup.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct BackupRecord {
    /// The row's id.
    pub id: i64,
    /// When the backup's snapshot was taken (epoch ms).
    pub created_at: i64,
    /// The backup file's name (no directory: backups may be moved or copied elsewhere).
    pub file: String,
    /// Its size in bytes.
    pub size_bytes: i64,
    /// Its SHA-256, lower-case hex.
    pub sha256: String,
}

/// A backup to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewBackup<'a> {
    /// When the backup's snapshot was taken (epoch ms).
    pub created_at: i64,
    /// The backup file's name.
    pub file: &'a str,
    /// Its size in bytes.
    pub size_bytes: i64,
    /// Its SHA-256, lower-case hex (64 characters).
    pub sha256: &'a str,
}

/// Records a completed backup; returns its id.
pub async fn record(db: &Db, backup: &NewBackup<'_>) -> Result<i64> {
    let id = sqlx::query_scalar(
        "INSERT INTO backups (created_at, file, size_bytes, sha256) VALUES ($1, $2, $3, $4) \
         RETURNING id",
    )
    .bind(backup.created_at)
    .bind(backup.file)
    .bind(backup.size_bytes)
    .bind(backup.sha256)
    .fetch_one(db.pool())
    .await?;
    Ok(id)
}

/// The newest backup recorded, if any.
pub async fn latest(db: &Db) -> Result<Option<BackupRecord>> {
    Ok(sqlx::query_as(
        "SELECT id, created_at, file, size_bytes, sha256 FROM backups \
         ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .fetch_optional(db.pool())
    .await?)
}
