//! `atlantic backup create|prune|verify|restore`: online backups with manifests, their
//! retention, checking them and restoring them. stdout carries what a script wants (the new
//! backup's path; the per-table report and `restore_seconds=`); everything else goes to
//! stderr.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use store::Db;

use crate::backup::{self, Retention};

/// `atlantic backup …`
#[derive(Subcommand, Debug)]
pub enum BackupCommand {
    /// Take a consistent backup while the service runs, then prune old ones.
    Create {
        #[command(flatten)]
        dir: DirArg,
        #[command(flatten)]
        retention: RetentionArgs,
    },
    /// Delete the backups in the directory that the retention does not keep.
    Prune {
        #[command(flatten)]
        dir: DirArg,
        #[command(flatten)]
        retention: RetentionArgs,
    },
    /// Check a backup against its manifest and that it opens.
    Verify {
        /// The backup file (its manifest is FILE.manifest.json).
        file: PathBuf,
    },
    /// Restore a backup into the empty database at --database-url (DATABASE_URL).
    Restore {
        /// The backup file (its manifest is FILE.manifest.json).
        file: PathBuf,
        /// Replace what the target holds: SQLite, the file; PostgreSQL, the objects the backup
        /// restores (pg_restore --clean --if-exists). Stop the service on it first.
        #[arg(long)]
        force: bool,
    },
}

/// Where backups go.
#[derive(Args, Debug)]
pub struct DirArg {
    /// The backup directory (created if missing, readable by its owner only).
    #[arg(
        long,
        env = "ATLANTIC_BACKUP_DIR",
        default_value = "backups",
        value_name = "DIR"
    )]
    dir: PathBuf,
}

/// `--keep-daily/--keep-weekly/--keep-monthly`.
#[derive(Args, Debug)]
pub struct RetentionArgs {
    /// Keep the newest backup of each of the last N days that have one.
    #[arg(
        long,
        env = "ATLANTIC_BACKUP_KEEP_DAILY",
        default_value_t = 7,
        value_name = "N"
    )]
    keep_daily: u32,
    /// Keep the newest backup of each of the last N ISO weeks that have one.
    #[arg(
        long,
        env = "ATLANTIC_BACKUP_KEEP_WEEKLY",
        default_value_t = 4,
        value_name = "N"
    )]
    keep_weekly: u32,
    /// Keep the newest backup of each of the last N months that have one.
    #[arg(
        long,
        env = "ATLANTIC_BACKUP_KEEP_MONTHLY",
        default_value_t = 12,
        value_name = "N"
    )]
    keep_monthly: u32,
}

impl RetentionArgs {
    fn retention(&self) -> Retention {
        Retention {
            daily: self.keep_daily,
            weekly: self.keep_weekly,
            monthly: self.keep_monthly,
        }
    }
}

/// Runs a `backup` subcommand; `url` is the database to back up or restore into.
pub async fn run(command: BackupCommand, url: &str) -> anyhow::Result<()> {
    match command {
        BackupCommand::Create { dir, retention } => create(url, &dir.dir, &retention).await,
        BackupCommand::Prune { dir, retention } => {
            let pruned = backup::prune(&dir.dir, retention.retention())?;
            report_prune(&pruned);
            Ok(())
        }
        BackupCommand::Verify { file } => verify(&file).await,
        BackupCommand::Restore { file, force } => restore(&file, url, force).await,
    }
}

async fn create(url: &str, dir: &Path, retention: &RetentionArgs) -> anyhow::Result<()> {
    // connecting would create a missing SQLite file, and back up an empty database made by
    // running from the wrong directory
    if let Some(path) = store::sqlite_file(url).map_err(|e| anyhow::anyhow!("DATABASE_URL: {e}"))?
        && !path.exists()
    {
        anyhow::bail!(
            "DATABASE_URL: {} does not exist; run from the service's working directory or give \
             an absolute path",
            path.display()
        );
    }
    let db = Db::connect(url)
        .await
        .map_err(|e| anyhow::anyhow!("DATABASE_URL: {e}"))?;
    let created = backup::create(&db, url, dir, chrono::Utc::now()).await;
    db.close().await;
    let created = created?;
    let manifest = &created.manifest;
    let rows: i64 = manifest.census.tables.values().map(|t| t.rows).sum();
    println!("{}", created.path.display());
    eprintln!(
        "backup {} ({} bytes, sha256 {}): {} tables, {rows} rows, migration {}, in {:.1} s",
        created.path.display(),
        manifest.size_bytes,
        manifest.sha256,
        manifest.census.tables.len(),
        manifest
            .census
            .migration_version
            .map_or_else(|| "none".to_owned(), |v| v.to_string()),
        created.took.as_secs_f64()
    );
    if !created.recorded {
        eprintln!(
            "not recorded for the backup metrics: the database has no backups table yet \
             (atlantic migrate adds it)"
        );
    }
    let pruned = backup::prune(dir, retention.retention())?;
    report_prune(&pruned);
    Ok(())
}

fn report_prune(pruned: &backup::Pruned) {
    for path in &pruned.deleted {
        eprintln!("deleted {}", path.display());
    }
    eprintln!(
        "retention: kept {} backup(s), deleted {}",
        pruned.kept.len(),
        pruned.deleted.len()
    );
}

async fn verify(file: &Path) -> anyhow::Result<()> {
    let verified = backup::verify(file).await?;
    let manifest = &verified.manifest;
    for table in &verified.tables {
        println!("{}", table.line());
    }
    match verified.archive_entries {
        Some(entries) => eprintln!(
            "{}: SHA-256 matches the manifest; pg_restore reads the whole archive ({entries} \
             entries, {} tables per the manifest)",
            file.display(),
            manifest.census.tables.len()
        ),
        None => eprintln!(
            "{}: SHA-256 matches the manifest; integrity check ok; {} tables match",
            file.display(),
            verified.tables.len()
        ),
    }
    Ok(())
}

async fn restore(file: &Path, url: &str, force: bool) -> anyhow::Result<()> {
    eprintln!(
        "restoring {} into {}",
        file.display(),
        store::redact_url(url)
    );
    let restored = backup::restore(file, url, force).await?;
    for table in &restored.tables {
        println!("{}", table.line());
    }
    for table in &restored.extra_tables {
        eprintln!("{table}: in the database but not in the backup (left as it was)");
    }
    println!("restore_seconds={:.3}", restored.took.as_secs_f64());
    let failed: Vec<String> = restored
        .tables
        .iter()
        .filter(|t| !t.ok())
        .map(|t| t.table.clone())
        .collect();
    if !failed.is_empty() {
        anyhow::bail!(
            "restored, but {} table(s) differ from the manifest: {}",
            failed.len(),
            failed.join(", ")
        );
    }
    eprintln!(
        "restored {} tables (migration {}) in {:.1} s; every row count and key checksum \
         matches the manifest",
        restored.tables.len(),
        restored
            .manifest
            .census
            .migration_version
            .map_or_else(|| "none".to_owned(), |v| v.to_string()),
        restored.took.as_secs_f64()
    );
    Ok(())
}
