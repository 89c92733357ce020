//! Server side: the viewer's time zone, and hourly usage laid out in it for charts and tables.

use chrono::TimeZone;
use chrono_tz::Tz;

use crate::api::traffic::Range;

use store::HOUR_MS;

/// The account's time zone from Settings; UTC when unset or unknown. Read from the account the
/// server's gate already loaded for this request when there is one (no second query).
pub async fn of(db: &store::Db, account: store::AccountId) -> Tz {
    let loaded = leptos::prelude::use_context::<http::request::Parts>().and_then(|parts| {
        parts
            .extensions
            .get::<store::accounts::Account>()
            .filter(|a| a.id == account)
            .map(|a| a.time_zone.clone())
    });
    if let Some(name) = loaded {
        return parse(&name);
    }
    match store::accounts::by_id(db, account).await {
        Ok(Some(a)) => parse(&a.time_zone),
        Ok(None) => Tz::UTC,
        Err(error) => {
            tracing::warn!(%error, "reading the account's time zone failed; using UTC");
            Tz::UTC
        }
    }
}

/// A time zone by IANA name; UTC for anything unknown.
pub fn parse(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

/// Whether `name` is a time zone we know.
pub fn is_known(name: &str) -> bool {
    name.parse::<Tz>().is_ok()
}

/// `ms` in `zone`, formatted with a chrono `format` string.
pub fn format(zone: Tz, ms: i64, format: &str) -> String {
    match zone.timestamp_millis_opt(ms).single() {
        Some(t) => t.format(format).to_string(),
        None => String::new(),
    }
}

/// A date and time for tables: `2026-11-22 14:05`.
pub fn date_time(zone: Tz, ms: i64) -> String {
    format(zone, ms, "%Y-%m-%d %H:%M")
}

/// Whole hours `[from, to)` (epoch ms) ending with the current hour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Start of the first hour.
    pub from: i64,
    /// End of the current hour.
    pub to: i64,
}

/// One point of a chart: an hour, or a day in the viewer's zone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    /// Its label in the viewer's zone.
    pub label: String,
    /// Start (epoch ms).
    pub start: i64,
    /// Bytes toward destinations.
    pub bytes_up: i64,
    /// Bytes delivered.
    pub bytes_down: i64,
    /// Requests.
    pub requests: i64,
    /// Failed requests.
    pub errors: i64,
}

impl Window {
    /// The range's hours up to and including the one holding `now`.
    pub fn last(range: Range, now: i64) -> Window {
        Window::hours(range.hours(), now)
    }

    /// `hours` hours up to and including the one holding `now`.
    pub fn hours(hours: i64, now: i64) -> Window {
        let to = store::usage::hour_floor(now) + HOUR_MS;
        Window {
            from: to - hours * HOUR_MS,
            to,
        }
    }

    /// Every hour of the window with its traffic (zeros where there was none), or the hours
    /// added up per day in `zone` when `by_day`.
    pub fn buckets(
        self,
        series: &[store::usage::HourlyUsage],
        by_day: bool,
        zone: Tz,
    ) -> Vec<Bucket> {
        let mut out: Vec<Bucket> = Vec::new();
        let mut next = series.iter().peekable();
        let mut hour = self.from;
        while hour < self.to {
            let label = if by_day {
                format(zone, hour, "%b %d")
            } else if self.to - self.from > 24 * HOUR_MS {
                format(zone, hour, "%a %H:00")
            } else {
                format(zone, hour, "%H:00")
            };
            if out.last().is_none_or(|b| b.label != label) {
                out.push(Bucket {
                    label,
                    start: hour,
                    ..Bucket::default()
                });
            }
            while next.peek().is_some_and(|h| h.hour_start < hour) {
                next.next();
            }
            if let Some(h) = next.next_if(|h| h.hour_start == hour)
                && let Some(b) = out.last_mut()
            {
                b.bytes_up += h.totals.bytes_up;
                b.bytes_down += h.totals.bytes_down;
                b.requests += h.totals.requests;
                b.errors += h.totals.errors;
            }
            hour += HOUR_MS;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::usage::{HourlyUsage, UsageTotals};

    /// 2026-11-22 10:30 UTC.
    const NOW: i64 = 1_795_343_400_000;

    fn hour(start: i64, bytes_down: i64) -> HourlyUsage {
        HourlyUsage {
            hour_start: start,
            totals: UsageTotals {
                bytes_down,
                requests: 1,
                ..UsageTotals::default()
            },
        }
    }

    #[test]
    fn a_day_has_24_hourly_buckets_ending_with_the_current_hour() {
        let w = Window::last(Range::Day, NOW);
        assert_eq!(w.to, NOW - NOW % HOUR_MS + HOUR_MS);
        let current = w.to - HOUR_MS;
        let b = w.buckets(&[hour(current, 7), hour(w.from, 3)], false, Tz::UTC);
        assert_eq!(b.len(), 24);
        assert_eq!(b[23].label, "10:00");
        assert_eq!(b[23].bytes_down, 7);
        // Out of order input is not summed into the wrong hour.
        assert_eq!(b.iter().map(|b| b.bytes_down).sum::<i64>(), 7);
        let sorted = w.buckets(&[hour(w.from, 3), hour(current, 7)], false, Tz::UTC);
        assert_eq!((sorted[0].bytes_down, sorted[23].bytes_down), (3, 7));
    }

    #[test]
    fn days_follow_the_viewers_zone() {
        let w = Window::last(Range::Month, NOW);
        let lagos = parse("Africa/Lagos");
        let series: Vec<HourlyUsage> = (0..720).map(|i| hour(w.from + i * HOUR_MS, 1)).collect();
        let days = w.buckets(&series, true, lagos);
        // 720 hours cut at local midnights: 30 or 31 labels, every hour counted once.
        assert!((30..=31).contains(&days.len()), "{}", days.len());
        assert_eq!(days.iter().map(|b| b.bytes_down).sum::<i64>(), 720);
        assert_eq!(days.last().map(|b| b.label.as_str()), Some("Nov 22"));
        // In Lagos (UTC+1) the last day began at 23:00 UTC the day before.
        let utc_days = w.buckets(&series, true, Tz::UTC);
        assert_eq!(utc_days.last().map(|b| b.bytes_down), Some(11));
        assert_eq!(days.last().map(|b| b.bytes_down), Some(12));
    }

    #[test]
    fn unknown_zones_fall_back_to_utc() {
        assert_eq!(parse("Mars/Olympus"), Tz::UTC);
        assert!(is_known("America/New_York"));
        assert!(!is_known("Mars/Olympus"));
        assert_eq!(date_time(parse("Asia/Kolkata"), NOW), "2026-11-22 16:00");
    }
}
