//! The scheduled backup's settings: `ATLANTIC_BACKUP_EVERY` (unset: no scheduled backup), and
//! the variables `atlantic backup create` reads too: where backups go
//! (`ATLANTIC_BACKUP_DIR`) and how many are kept (`ATLANTIC_BACKUP_KEEP_DAILY`, `…_WEEKLY`,
//! `…_MONTHLY`).

use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, Env, err, whole};
use crate::backup::Retention;

/// The shortest and longest interval `ATLANTIC_BACKUP_EVERY` takes.
const SHORTEST: Duration = Duration::from_secs(60);
const LONGEST: Duration = Duration::from_secs(31 * 86_400);
const KEEP: &str = "a whole number";

/// A backup taken by the service itself at an interval, on one dashboard node at a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupSchedule {
    /// `ATLANTIC_BACKUP_EVERY`: how long after the last recorded backup the next is due.
    pub every: Duration,
    /// `ATLANTIC_BACKUP_DIR`: where backups go (default `backups/` in the working directory).
    pub dir: PathBuf,
    /// `ATLANTIC_BACKUP_KEEP_DAILY`, `…_WEEKLY`, `…_MONTHLY` (7, 4, 12).
    pub retention: Retention,
}

/// The schedule, or `None` when `ATLANTIC_BACKUP_EVERY` is unset.
pub(super) fn from_env(env: Env) -> Result<Option<BackupSchedule>, ConfigError> {
    let Some(raw) = env("ATLANTIC_BACKUP_EVERY") else {
        return Ok(None);
    };
    let every = interval(&raw).filter(|d| (SHORTEST..=LONGEST).contains(d));
    let Some(every) = every else {
        return Err(err(
            "ATLANTIC_BACKUP_EVERY",
            format!(
                "\"{raw}\" is not an interval from 1 minute to 31 days (a whole number with s, \
                 m, h or d, e.g. 24h)"
            ),
        ));
    };
    let d = Retention::default();
    let keep = |var: &'static str, default: u32| -> Result<u32, ConfigError> {
        Ok(whole(env, var, 0..=100_000, KEEP)?
            .map_or(default, |n| u32::try_from(n).unwrap_or(u32::MAX)))
    };
    Ok(Some(BackupSchedule {
        every,
        dir: env("ATLANTIC_BACKUP_DIR").map_or_else(|| PathBuf::from("backups"), PathBuf::from),
        retention: Retention {
            daily: keep("ATLANTIC_BACKUP_KEEP_DAILY", d.daily)?,
            weekly: keep("ATLANTIC_BACKUP_KEEP_WEEKLY", d.weekly)?,
            monthly: keep("ATLANTIC_BACKUP_KEEP_MONTHLY", d.monthly)?,
        },
    }))
}

/// `30m`, `24h`, `7d`, `3600s`: a whole number and its unit.
fn interval(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let unit = raw.chars().last()?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    let number: u64 = raw[..raw.len() - 1].parse().ok()?;
    number.checked_mul(seconds).map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::resolve;

    fn schedule(vars: &[(&str, &str)]) -> Option<BackupSchedule> {
        resolve(vars).expect("valid backup settings").backup
    }

    #[test]
    fn unset_means_no_scheduled_backup() {
        assert_eq!(schedule(&[("ATLANTIC_BACKUP_DIR", "/var/backups")]), None);
    }

    #[test]
    fn intervals_take_a_unit_and_the_defaults_fill_in() {
        let s = schedule(&[("ATLANTIC_BACKUP_EVERY", "24h")]).expect("a schedule");
        assert_eq!(s.every, Duration::from_secs(86_400));
        assert_eq!(s.dir, PathBuf::from("backups"));
        assert_eq!(s.retention, Retention::default());
        for (raw, secs) in [("90m", 5400), ("1d", 86_400), (" 3600s ", 3600), ("1m", 60)] {
            let s = schedule(&[("ATLANTIC_BACKUP_EVERY", raw)]).expect("a schedule");
            assert_eq!(s.every, Duration::from_secs(secs), "{raw}");
        }
        let s = schedule(&[
            ("ATLANTIC_BACKUP_EVERY", "6h"),
            ("ATLANTIC_BACKUP_DIR", "/var/backups/atlantic"),
            ("ATLANTIC_BACKUP_KEEP_DAILY", "14"),
            ("ATLANTIC_BACKUP_KEEP_WEEKLY", "0"),
            ("ATLANTIC_BACKUP_KEEP_MONTHLY", "24"),
        ])
        .expect("a schedule");
        assert_eq!(s.dir, PathBuf::from("/var/backups/atlantic"));
        assert_eq!(
            s.retention,
            Retention {
                daily: 14,
                weekly: 0,
                monthly: 24
            }
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, raw) in [
            ("ATLANTIC_BACKUP_EVERY", "24"),
            ("ATLANTIC_BACKUP_EVERY", "30s"),
            ("ATLANTIC_BACKUP_EVERY", "32d"),
            ("ATLANTIC_BACKUP_EVERY", "daily"),
            ("ATLANTIC_BACKUP_EVERY", "h"),
            ("ATLANTIC_BACKUP_KEEP_DAILY", "-1"),
        ] {
            let mut vars = vec![(var, raw)];
            if var != "ATLANTIC_BACKUP_EVERY" {
                vars.push(("ATLANTIC_BACKUP_EVERY", "24h"));
            }
            let error = resolve(&vars).expect_err(raw);
            assert_eq!(error.var, var, "{raw}");
        }
    }
}
