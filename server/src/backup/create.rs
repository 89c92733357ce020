//! `backup create`: a consistent copy of the live database, taken while the service runs and
//! meters traffic, with its manifest beside it, and a row in `backups` for the service's
//! metrics.
//!
//! SQLite: `VACUUM INTO` (one read transaction), and the census taken from the copy itself.
//! PostgreSQL: a repeatable-read snapshot is exported to `pg_dump --snapshot`, and the census
//! taken in the same transaction, so the manifest counts exactly what the dump holds.
//!
//! Files are written under a `.partial` name and renamed when complete, the manifest last:
//! a backup with our name and a manifest is whole.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use store::backup::{Census, DatabaseReader, PostgresSnapshot, SqliteOpen};
use store::{Backend, Db};

use super::manifest::{self, Manifest};
use super::naming::{self, BackupName, PARTIAL_SUFFIX};
use super::pg_tools;

/// The table `create` records completed backups in (absent before its migration).
const RECORD_TABLE: &str = "backups";

/// A completed backup.
#[derive(Debug, Clone)]
pub struct Created {
    /// The backup file.
    pub path: PathBuf,
    /// Its manifest, as written beside it.
    pub manifest: Manifest,
    /// Whether it was recorded in the database's `backups` table (not before that table's
    /// migration is applied).
    pub recorded: bool,
    /// How long it took.
    pub took: Duration,
}

/// Backs up `db` (reached at `url`, which `pg_dump` needs) into `dir`, naming the backup
/// after `now`.
pub async fn create(db: &Db, url: &str, dir: &Path, now: DateTime<Utc>) -> anyhow::Result<Created> {
    let started = Instant::now();
    make_dir(dir)?;
    let taken = now.with_nanosecond(0).unwrap_or(now);
    let name = BackupName {
        taken,
        engine: db.backend(),
    };
    let path = dir.join(name.file_name());
    if path.exists() || naming::manifest_path(&path).exists() {
        anyhow::bail!(
            "{}: a backup taken in the same second exists already; try again",
            path.display()
        );
    }
    let partial = naming::with_suffix(&path, PARTIAL_SUFFIX);
    // what an attempt in this same second left behind, if it died: ours to replace
    let _ = std::fs::remove_file(&partial);
    let census = match write(db, url, &partial).await {
        Ok(census) => census,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
    };
    // hashing a large file takes a while: off the async workers (the service runs this too)
    let finished = tokio::task::spawn_blocking({
        let (partial, path) = (partial.clone(), path.clone());
        move || -> anyhow::Result<(u64, String)> {
            manifest::make_private(&partial)?;
            std::fs::File::open(&partial)?.sync_all()?;
            let (size, sha256) = manifest::size_and_sha256(&partial)?;
            std::fs::rename(&partial, &path)?;
            Ok((size, sha256))
        }
    })
    .await
    .map_err(|e| anyhow::anyhow!("the checksum task failed: {e}"))
    .and_then(|hashed| hashed);
    let (size_bytes, sha256) = match finished {
        Ok(done) => done,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error).with_context(|| format!("{}: cannot finish", path.display()));
        }
    };
    let manifest = Manifest {
        format: manifest::FORMAT,
        engine: db.backend(),
        created_at: taken.to_rfc3339_opts(SecondsFormat::Secs, true),
        file: name.file_name(),
        size_bytes,
        sha256,
        app_version: env!("CARGO_PKG_VERSION").to_owned(),
        census,
    };
    manifest.write_for(&path)?;
    sync_dir(dir);
    let recorded = manifest.census.tables.contains_key(RECORD_TABLE);
    if recorded {
        let size = i64::try_from(manifest.size_bytes).unwrap_or(i64::MAX);
        store::backups::record(
            db,
            &store::backups::NewBackup {
                created_at: taken.timestamp_millis(),
                file: &manifest.file,
                size_bytes: size,
                sha256: &manifest.sha256,
            },
        )
        .await
        .with_context(|| {
            format!(
                "{} is complete, but recording it in the database failed (the backup metrics \
                 will not show it)",
                path.display()
            )
        })?;
    }
    Ok(Created {
        path,
        manifest,
        recorded,
        took: started.elapsed(),
    })
}

/// Writes the backup to `partial` and returns the census of what it holds.
async fn write(db: &Db, url: &str, partial: &Path) -> anyhow::Result<Census> {
    match db.backend() {
        Backend::Sqlite => {
            store::backup::vacuum_into(db, partial)
                .await
                .with_context(|| format!("VACUUM INTO {}", partial.display()))?;
            let mut copy = DatabaseReader::sqlite(partial, SqliteOpen::Backup).await?;
            let census = copy.census().await;
            copy.close().await;
            Ok(census.context("counting the rows of the copy")?)
        }
        Backend::Postgres => {
            let mut snapshot = PostgresSnapshot::begin(db)
                .await
                .context("opening a snapshot for pg_dump")?;
            let id = snapshot.id().to_owned();
            let (census, dumped) =
                tokio::join!(snapshot.census(), pg_tools::dump(url, &id, partial));
            // read-only: ending it cannot lose anything, and a failure only closes it sooner
            let _ = snapshot.end().await;
            dumped?;
            Ok(census.context("counting the rows of the snapshot")?)
        }
    }
}

/// Creates the backup directory if missing, readable by its owner only.
fn make_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).with_context(|| {
        format!(
            "--dir/ATLANTIC_BACKUP_DIR: cannot create the backup directory {}",
            dir.display()
        )
    })
}

/// Flushes the directory's entries (the renames) to disk; best effort.
fn sync_dir(dir: &Path) {
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}
