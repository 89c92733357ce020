//! Which backups to keep: grandfather-father-son. The newest backup of each of the last
//! `daily` days, `weekly` ISO weeks and `monthly` months that have a backup is kept (one
//! backup may count for all three), and the newest backup overall always is. Days, weeks and
//! months are UTC, like the names.
//!
//! "That have a backup" rather than "of the calendar": when backups stop for a while, the
//! last ones are kept instead of aging out one by one until nothing is left.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Utc};

/// How many of each period to keep (`--keep-daily`, `--keep-weekly`, `--keep-monthly`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Days, newest first, whose newest backup is kept.
    pub daily: u32,
    /// ISO weeks, newest first, whose newest backup is kept.
    pub weekly: u32,
    /// Calendar months, newest first, whose newest backup is kept.
    pub monthly: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            daily: 7,
            weekly: 4,
            monthly: 12,
        }
    }
}

/// The period a backup time falls in, as a comparable key (year and day, week or month).
type PeriodOf = fn(&DateTime<Utc>) -> (i32, u32);

/// The positions in `taken` (backup times, any order) of the backups to keep.
pub fn keep(taken: &[DateTime<Utc>], retention: Retention) -> BTreeSet<usize> {
    let mut newest_first: Vec<usize> = (0..taken.len()).collect();
    newest_first.sort_by(|&a, &b| taken[b].cmp(&taken[a]));
    let mut kept = BTreeSet::new();
    if let Some(&newest) = newest_first.first() {
        kept.insert(newest);
    }
    let periods: [(u32, PeriodOf); 3] = [
        (retention.daily, |t| (t.year(), t.ordinal())),
        (retention.weekly, |t| {
            let week = t.iso_week();
            (week.year(), week.week())
        }),
        (retention.monthly, |t| (t.year(), t.month())),
    ];
    for (count, period_of) in periods {
        let mut seen = 0;
        let mut last = None;
        for &i in &newest_first {
            if seen == count {
                break;
            }
            let period = period_of(&taken[i]);
            // the first backup met in a period, newest first, is that period's newest
            if last != Some(period) {
                last = Some(period);
                kept.insert(i);
                seen += 1;
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
            .single()
            .expect("a valid time")
    }

    /// The kept times, newest first.
    fn kept(taken: &[DateTime<Utc>], retention: Retention) -> Vec<DateTime<Utc>> {
        let mut times: Vec<_> = keep(taken, retention)
            .into_iter()
            .map(|i| taken[i])
            .collect();
        times.sort_by(|a, b| b.cmp(a));
        times
    }

    fn only(daily: u32, weekly: u32, monthly: u32) -> Retention {
        Retention {
            daily,
            weekly,
            monthly,
        }
    }

    #[test]
    fn daily_keeps_the_newest_backup_of_each_of_the_last_days() {
        // every 6 hours for 10 days: 40 backups
        let start = at(2025, 3, 1, 0);
        let taken: Vec<_> = (0..40).map(|i| start + Duration::hours(6 * i)).collect();
        let kept = kept(&taken, only(7, 0, 0));
        assert_eq!(kept.len(), 7);
        // the 18:00 backup of 10 March back to 4 March
        for (n, time) in kept.iter().enumerate() {
            let day = 10 - u32::try_from(n).expect("small");
            assert_eq!(*time, at(2025, 3, day, 18), "position {n}");
        }
    }

    #[test]
    fn weekly_follows_iso_weeks_across_a_new_year() {
        // Monday 2024-12-30 belongs to ISO week 2025-W01, Sunday 2024-12-29 to 2024-W52
        let taken = vec![
            at(2024, 12, 22, 3), // Sunday, 2024-W51
            at(2024, 12, 23, 3), // Monday, 2024-W52
            at(2024, 12, 29, 3), // Sunday, 2024-W52
            at(2024, 12, 30, 3), // Monday, 2025-W01
            at(2025, 1, 1, 3),   // Wednesday, 2025-W01
        ];
        assert_eq!(
            kept(&taken, only(0, 2, 0)),
            vec![at(2025, 1, 1, 3), at(2024, 12, 29, 3)]
        );
        assert_eq!(
            kept(&taken, only(0, 3, 0)),
            vec![at(2025, 1, 1, 3), at(2024, 12, 29, 3), at(2024, 12, 22, 3)]
        );
    }

    #[test]
    fn monthly_keeps_the_last_backup_of_each_month() {
        // daily at 03:00 through 2024 (a leap year): 366 backups
        let start = at(2024, 1, 1, 3);
        let taken: Vec<_> = (0..366).map(|i| start + Duration::days(i)).collect();
        let kept = kept(&taken, only(0, 0, 12));
        let month_ends = [31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 29, 31];
        let expected: Vec<_> = (1..=12)
            .rev()
            .zip(month_ends)
            .map(|(month, day)| at(2024, month, day, 3))
            .collect();
        assert_eq!(kept, expected);
    }

    #[test]
    fn the_defaults_over_a_year_of_daily_backups() {
        // 2024-01-01 … 2024-12-31, daily at 03:00; today is Tuesday 31 December
        let start = at(2024, 1, 1, 3);
        let taken: Vec<_> = (0..366).map(|i| start + Duration::days(i)).collect();
        let kept = kept(&taken, Retention::default());
        let mut expected: BTreeSet<DateTime<Utc>> = BTreeSet::new();
        // 7 days: 25 … 31 December
        expected.extend((25..=31).map(|d| at(2024, 12, d, 3)));
        // 4 ISO weeks' newest: Tue 31 Dec (2025-W01), Sun 29 (both days kept already), 22
        // and 15 December
        expected.extend([22, 15].map(|d| at(2024, 12, d, 3)));
        // 12 months' newest: the last day of each month of 2024
        let month_ends = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        expected.extend(
            (1..=12)
                .zip(month_ends)
                .map(|(month, day)| at(2024, month, day, 3)),
        );
        let expected: Vec<_> = expected.into_iter().rev().collect();
        assert_eq!(kept, expected);
        assert_eq!(kept.len(), 7 + 2 + 11);
    }

    #[test]
    fn a_pause_in_backups_keeps_the_last_ones_rather_than_none() {
        // ten daily backups, then nothing for two months: still the last seven days that
        // have one
        let start = at(2025, 1, 1, 3);
        let taken: Vec<_> = (0..10).map(|i| start + Duration::days(i)).collect();
        let kept = kept(&taken, only(7, 0, 0));
        assert_eq!(kept.first(), Some(&at(2025, 1, 10, 3)));
        assert_eq!(kept.last(), Some(&at(2025, 1, 4, 3)));
        assert_eq!(kept.len(), 7);
    }

    #[test]
    fn the_newest_backup_is_kept_whatever_the_counts() {
        let taken = [at(2025, 5, 1, 3), at(2025, 5, 2, 3), at(2025, 5, 2, 9)];
        assert_eq!(kept(&taken, only(0, 0, 0)), vec![at(2025, 5, 2, 9)]);
        assert!(keep(&[], Retention::default()).is_empty());
    }

    #[test]
    fn input_order_does_not_matter() {
        let sorted = [at(2025, 5, 1, 3), at(2025, 5, 2, 3), at(2025, 5, 3, 3)];
        let shuffled = [sorted[1], sorted[2], sorted[0]];
        assert_eq!(
            kept(&shuffled, only(2, 0, 0)),
            vec![at(2025, 5, 3, 3), at(2025, 5, 2, 3)]
        );
    }
}
