//! `backup restore FILE`: puts a verified backup into an empty database, then takes the
//! restored database's census and checks it against the manifest.
//!
//! Nothing is touched when the backup fails verification, when it is of the other engine, or
//! when the target already has tables (unless `--force`). SQLite: the file is copied into
//! place (under a temporary name, then renamed; the target's `-wal`/`-shm` files go, since they
//! belong to the database replaced). PostgreSQL: `pg_restore` in one transaction, into a
//! database that must exist (`createdb`); `--force` adds `--clean --if-exists`, dropping the
//! objects the backup restores first. Stop the service on the target before a forced restore.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use store::Backend;
use store::backup::{DatabaseReader, SqliteOpen};

use super::compare::{self, TableCheck};
use super::manifest::{self, Manifest};
use super::naming;
use super::pg_tools;
use super::verify;

/// A restore and how it compares with the manifest.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The backup's manifest.
    pub manifest: Manifest,
    /// Every table of the manifest, checked in the restored database.
    pub tables: Vec<TableCheck>,
    /// Tables the restored database has beyond the manifest's (left from before, `--force`).
    pub extra_tables: Vec<String>,
    /// From the start of verification to the end of the final check.
    pub took: Duration,
}

/// Restores the backup at `file` into the database at `url`.
pub async fn restore(file: &Path, url: &str, force: bool) -> anyhow::Result<Restored> {
    let started = Instant::now();
    let verified = verify::verify(file)
        .await
        .context("the backup did not verify, so nothing was restored")?;
    let manifest = verified.manifest;
    let target_file = store::sqlite_file(url).map_err(|e| anyhow::anyhow!("DATABASE_URL: {e}"))?;
    let target = if target_file.is_some() {
        Backend::Sqlite
    } else {
        Backend::Postgres
    };
    if manifest.engine != target {
        anyhow::bail!(
            "{} is a {} backup, and DATABASE_URL names a {target} database; nothing was restored",
            file.display(),
            manifest.engine
        );
    }
    let mut restored = match target_file {
        Some(path) => {
            into_sqlite(file, &path, force).await?;
            DatabaseReader::sqlite(&path, SqliteOpen::Live).await?
        }
        None => {
            refuse_unless_empty(url, force).await?;
            pg_tools::restore(url, file, force).await?;
            DatabaseReader::postgres(url).await?
        }
    };
    let census = restored.census().await;
    restored.close().await;
    let census = census.context("counting the restored rows")?;
    let tables = compare::tables(&manifest.census, &census);
    let extra_tables = census
        .tables
        .keys()
        .filter(|t| !manifest.census.tables.contains_key(*t))
        .cloned()
        .collect();
    Ok(Restored {
        manifest,
        tables,
        extra_tables,
        took: started.elapsed(),
    })
}

/// Refuses a PostgreSQL database that has tables already, unless `force`.
async fn refuse_unless_empty(url: &str, force: bool) -> anyhow::Result<()> {
    let mut target = DatabaseReader::postgres(url)
        .await
        .map_err(|e| anyhow::anyhow!("DATABASE_URL: {e}"))?;
    let tables = target.table_names().await;
    target.close().await;
    let tables = tables.context("listing the target database's tables")?;
    if !tables.is_empty() && !force {
        anyhow::bail!(
            "DATABASE_URL ({}) is not empty: it has {} table(s) ({}); restore into an empty \
             database (createdb), or pass --force to replace what the backup holds",
            store::redact_url(url),
            tables.len(),
            first_few(&tables)
        );
    }
    Ok(())
}

/// Copies `file` into place at `target`, refusing a database that has tables unless `force`.
async fn into_sqlite(file: &Path, target: &Path, force: bool) -> anyhow::Result<()> {
    if !force {
        refuse_sqlite_unless_empty(target).await?;
    }
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("DATABASE_URL: cannot create {}", dir.display()))?;
    }
    let temporary = naming::with_suffix(target, ".restoring");
    let copied = (|| -> std::io::Result<()> {
        let _ = std::fs::remove_file(&temporary);
        std::fs::copy(file, &temporary)?;
        manifest::make_private(&temporary)?;
        std::fs::File::open(&temporary)?.sync_all()?;
        // they belong to the database being replaced; the copy has no WAL of its own
        for stale in ["-wal", "-shm", "-journal"] {
            match std::fs::remove_file(naming::with_suffix(target, stale)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        std::fs::rename(&temporary, target)
    })();
    if let Err(error) = copied {
        let _ = std::fs::remove_file(&temporary);
        return Err(error).with_context(|| format!("cannot restore into {}", target.display()));
    }
    Ok(())
}

/// Refuses a SQLite file that holds any table, or is not a database at all.
async fn refuse_sqlite_unless_empty(target: &Path) -> anyhow::Result<()> {
    let size = |path: &Path| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size(target) == 0 && size(&naming::with_suffix(target, "-wal")) == 0 {
        return Ok(());
    }
    let tables = match DatabaseReader::sqlite(target, SqliteOpen::Live).await {
        Ok(mut reader) => {
            let tables = reader.table_names().await;
            reader.close().await;
            tables
        }
        Err(error) => Err(error),
    };
    match tables {
        Ok(tables) if tables.is_empty() => Ok(()),
        Ok(tables) => anyhow::bail!(
            "DATABASE_URL ({}) is not empty: it has {} table(s) ({}); restore to a new path, \
             or pass --force to replace the file",
            target.display(),
            tables.len(),
            first_few(&tables)
        ),
        Err(error) => anyhow::bail!(
            "DATABASE_URL ({}) exists and cannot be read as a database ({error}); pass --force \
             to replace it",
            target.display()
        ),
    }
}

/// Up to five names, then how many more.
fn first_few(names: &[String]) -> String {
    let mut shown = names.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > 5 {
        shown.push_str(&format!(", and {} more", names.len() - 5));
    }
    shown
}
