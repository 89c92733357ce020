//! `backup verify FILE`: the file is the one its manifest describes (size and SHA-256), and
//! it opens: SQLite's integrity check passes and every table's rows and key checksum equal
//! the manifest's; a PostgreSQL archive's table of contents is listed (`pg_restore --list`)
//! and every entry read and decompressed (`pg_restore --file=/dev/null`). `restore` runs
//! this first and changes nothing when it fails.

use std::path::Path;

use store::Backend;
use store::backup::{DatabaseReader, SqliteOpen};

use super::compare::{self, TableCheck};
use super::manifest::{self, Manifest};
use super::pg_tools;

/// A backup that passed.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Its manifest.
    pub manifest: Manifest,
    /// SQLite: every table checked against the manifest (all passed).
    pub tables: Vec<TableCheck>,
    /// PostgreSQL: how many entries `pg_restore --list` read.
    pub archive_entries: Option<usize>,
}

/// Checks the backup at `file` against its manifest.
pub async fn verify(file: &Path) -> anyhow::Result<Verified> {
    if !file.is_file() {
        anyhow::bail!("{}: no such backup file", file.display());
    }
    let manifest = Manifest::read_for(file)?;
    let (size, sha256) = manifest::size_and_sha256(file)?;
    if sha256 != manifest.sha256 || size != manifest.size_bytes {
        anyhow::bail!(
            "{}: checksum mismatch: the file has SHA-256 {sha256} ({size} bytes), its manifest \
             says {} ({} bytes); the file is damaged or is not the one the manifest describes",
            file.display(),
            manifest.sha256,
            manifest.size_bytes
        );
    }
    match manifest.engine {
        Backend::Sqlite => {
            let mut copy = DatabaseReader::sqlite(file, SqliteOpen::Backup).await?;
            let checked = async {
                let problems = copy.integrity_problems().await?;
                if !problems.is_empty() {
                    anyhow::bail!(
                        "{}: SQLite's integrity check failed: {}",
                        file.display(),
                        problems.join("; ")
                    );
                }
                Ok(copy.census().await?)
            }
            .await;
            copy.close().await;
            let census = checked?;
            let tables = compare::tables(&manifest.census, &census);
            if let Some(failed) = compare::failures(&tables) {
                anyhow::bail!(
                    "{}: does not hold what its manifest says: {failed}",
                    file.display()
                );
            }
            if census.migration_version != manifest.census.migration_version {
                anyhow::bail!(
                    "{}: migration {:?}, its manifest says {:?}",
                    file.display(),
                    census.migration_version,
                    manifest.census.migration_version
                );
            }
            Ok(Verified {
                manifest,
                tables,
                archive_entries: None,
            })
        }
        Backend::Postgres => {
            let entries = pg_tools::list(file).await?;
            pg_tools::read_whole(file).await?;
            Ok(Verified {
                manifest,
                tables: Vec::new(),
                archive_entries: Some(entries),
            })
        }
    }
}
