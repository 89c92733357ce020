//! `ATLANTIC_USAGE_SPOOL_DIR`: where a gateway keeps its append-only spool of metered usage
//! (see `crate::usage_spool`), so that counts drained but not yet in the database survive a
//! crash. `off` turns it off (a crash then loses what the database had not confirmed).
//! Unset: a `spool` folder beside a SQLite database file, or `data/spool` for PostgreSQL.

use std::path::{Path, PathBuf};

use super::{ConfigError, Env, err};

const VAR: &str = "ATLANTIC_USAGE_SPOOL_DIR";

/// The spool folder, or `None` when turned off.
pub(super) fn spool_dir(env: Env, database_url: &str) -> Result<Option<PathBuf>, ConfigError> {
    let Some(raw) = env(VAR) else {
        return Ok(Some(default_dir(database_url)));
    };
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    if raw.contains('\0') {
        return Err(err(VAR, "must be a folder path (or `off`)"));
    }
    let dir = PathBuf::from(raw);
    if dir.exists() && !dir.is_dir() {
        return Err(err(
            VAR,
            format!("\"{raw}\" exists and is not a folder (give a folder, or `off`)"),
        ));
    }
    Ok(Some(dir))
}

fn default_dir(database_url: &str) -> PathBuf {
    let file = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or(rest))
        .filter(|path| !path.is_empty() && !path.starts_with(":memory:"));
    match file {
        Some(path) => Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join("spool"),
        None => PathBuf::from("data/spool"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(value: Option<&str>, url: &str) -> Result<Option<PathBuf>, ConfigError> {
        let value = value.map(str::to_owned);
        spool_dir(
            &move |name: &str| (name == VAR).then(|| value.clone()).flatten(),
            url,
        )
    }

    #[test]
    fn defaults_beside_a_sqlite_file_or_under_data_for_postgres() {
        assert_eq!(
            read(None, "sqlite://data/atlantic.db").expect("valid"),
            Some(PathBuf::from("data/spool"))
        );
        assert_eq!(
            read(None, "sqlite:///var/lib/atlantic/a.db?mode=rwc").expect("valid"),
            Some(PathBuf::from("/var/lib/atlantic/spool"))
        );
        assert_eq!(
            read(None, "sqlite://a.db").expect("valid"),
            Some(PathBuf::from("./spool"))
        );
        assert_eq!(
            read(None, "postgres://u:p@db:5432/atlantic").expect("valid"),
            Some(PathBuf::from("data/spool"))
        );
    }

    #[test]
    fn off_turns_it_off_and_a_file_is_refused_by_name() {
        assert_eq!(read(Some("off"), "sqlite://a.db").expect("valid"), None);
        assert_eq!(
            read(Some("/srv/spool"), "sqlite://a.db").expect("valid"),
            Some(PathBuf::from("/srv/spool"))
        );
        let file = tempfile::NamedTempFile::new().expect("valid");
        let e =
            read(Some(file.path().to_str().expect("valid")), "sqlite://a.db").expect_err("refused");
        assert_eq!(e.var, VAR);
        assert!(e.reason.contains("not a folder"), "{}", e.reason);
    }
}
