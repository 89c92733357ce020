//! Backup file names: `atlantic-YYYYMMDDTHHMMSSZ.sqlite` or `….pgdump`, the UTC time of the
//! snapshot, so names sort by time and are recognisably ours; the manifest is the same name
//! with `.manifest.json` added. Only files named this way, with their manifest, are ever
//! pruned.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};
use store::Backend;

const PREFIX: &str = "atlantic-";
const STAMP: &str = "%Y%m%dT%H%M%SZ";
/// Added to a backup's file name for its manifest.
pub const MANIFEST_SUFFIX: &str = ".manifest.json";
/// Added to a file while it is being written; renamed away when complete.
pub const PARTIAL_SUFFIX: &str = ".partial";

/// A backup's name: when its snapshot was taken and of which engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupName {
    /// The snapshot's time, to the second.
    pub taken: DateTime<Utc>,
    /// The engine it was taken from.
    pub engine: Backend,
}

impl BackupName {
    /// The file name, e.g. `atlantic-20250301T030000Z.sqlite`.
    pub fn file_name(&self) -> String {
        format!(
            "{PREFIX}{}.{}",
            self.taken.format(STAMP),
            extension(self.engine)
        )
    }

    /// The name `file_name` was made from, if it is one of ours.
    pub fn parse(file_name: &str) -> Option<BackupName> {
        let rest = file_name.strip_prefix(PREFIX)?;
        let (stamp, extension) = rest.split_once('.')?;
        let engine = match extension {
            "sqlite" => Backend::Sqlite,
            "pgdump" => Backend::Postgres,
            _ => return None,
        };
        // exactly the 16 characters we write (chrono would accept a shorter year or a sign)
        if stamp.len() != 16 {
            return None;
        }
        let taken = NaiveDateTime::parse_from_str(stamp, STAMP).ok()?.and_utc();
        Some(BackupName { taken, engine })
    }
}

/// The file extension of a backup of `engine`.
fn extension(engine: Backend) -> &'static str {
    match engine {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "pgdump",
    }
}

/// Where the manifest of the backup at `backup` is: beside it, `.manifest.json` added.
pub fn manifest_path(backup: &Path) -> PathBuf {
    with_suffix(backup, MANIFEST_SUFFIX)
}

/// `path` with `suffix` added to its file name.
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn names_round_trip_and_sort_by_time() {
        let taken = Utc
            .with_ymd_and_hms(2025, 3, 1, 3, 0, 9)
            .single()
            .expect("a valid time");
        let name = BackupName {
            taken,
            engine: Backend::Sqlite,
        };
        assert_eq!(name.file_name(), "atlantic-20250301T030009Z.sqlite");
        assert_eq!(BackupName::parse(&name.file_name()), Some(name));
        let pg = BackupName {
            taken,
            engine: Backend::Postgres,
        };
        assert_eq!(pg.file_name(), "atlantic-20250301T030009Z.pgdump");
        assert!("atlantic-20250228T235959Z.sqlite" < name.file_name().as_str());
    }

    #[test]
    fn other_files_are_not_ours() {
        for name in [
            "atlantic-20250301T030009Z.sqlite.manifest.json",
            "atlantic-20250301T030009Z.sqlite.partial",
            "atlantic-20250301T030009Z.db",
            "atlantic-2025031T030009Z.sqlite",
            "atlantic-20251301T030009Z.sqlite",
            "other-20250301T030009Z.sqlite",
            "atlantic.db",
            "notes.txt",
        ] {
            assert_eq!(BackupName::parse(name), None, "{name}");
        }
    }

    #[test]
    fn the_manifest_sits_beside_its_backup() {
        assert_eq!(
            manifest_path(Path::new("/b/atlantic-20250301T030009Z.pgdump")),
            PathBuf::from("/b/atlantic-20250301T030009Z.pgdump.manifest.json")
        );
    }
}
