//! The Usage page's data: bandwidth per hour or day over a range, the period's quota with a
//! projection of when it runs out, and breakdowns by country and sticky session.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::traffic::{Range, ShareRow};

/// One row of the usage table (an hour or a day in the viewer's zone).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRow {
    /// The hour or day.
    pub label: String,
    /// Bytes toward destinations.
    pub bytes_up: i64,
    /// Bytes delivered.
    pub bytes_down: i64,
    /// Requests.
    pub requests: i64,
    /// Failed requests.
    pub errors: i64,
}

/// When the period's bandwidth runs out at the pace so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Projection {
    /// The plan has no bandwidth limit.
    Unlimited,
    /// Nothing used yet this period.
    NoUse,
    /// At this pace the period ends first, having used about this many bytes.
    Lasts {
        /// Projected use by the period's end.
        projected_bytes: i64,
    },
    /// At this pace it runs out at this local time, before the period ends.
    RunsOut {
        /// When, in the viewer's zone.
        at: String,
    },
    /// Used up already.
    UsedUp,
}

/// The current period's quota.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// The plan's name.
    pub plan: String,
    /// Bandwidth per period; `None` for unlimited.
    pub bandwidth_bytes: Option<i64>,
    /// Used this period (as flushed).
    pub used_bytes: i64,
    /// The period's start, in the viewer's zone.
    pub period_start: String,
    /// The period's end, in the viewer's zone.
    pub period_end: String,
    /// The pace projection.
    pub projection: Projection,
}

/// Everything the Usage page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageReport {
    /// The range shown.
    pub range: Range,
    /// Rows are days (else hours).
    pub by_day: bool,
    /// The zone the labels are in.
    pub time_zone: String,
    /// Oldest first.
    pub rows: Vec<UsageRow>,
    /// ECharts option (JSON) of the rows' bandwidth.
    pub chart: String,
    /// The live plan's quota, if there is a plan.
    pub quota: Option<Quota>,
    /// Traffic by exit country over the range, most first.
    pub countries: Vec<ShareRow>,
    /// The busiest sticky sessions over the range.
    pub sessions: Vec<ShareRow>,
    /// Up to when the metered totals are known to be in the store (`HH:MM` in the viewer's
    /// zone, with the date when not today); `None` before the gateway's first flush.
    #[serde(default)]
    pub reconciled_until: Option<String>,
}

/// How far the gateways' metered usage is known to be in the store: everything metered before
/// `drained_at_ms` is written, except each listed account's drift, from the hour it names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciliation {
    /// When the gateways last drained their counts for a flush (epoch ms; the earliest of the
    /// cluster's); `None` before the first.
    pub drained_at_ms: Option<i64>,
    /// (account, bytes metered and not yet confirmed written, start of the oldest hour with
    /// drift) by account.
    pub drift: Vec<(i64, u64, i64)>,
}

impl Reconciliation {
    /// Up to when `account`'s metered totals are in the store (epoch ms).
    pub fn until(&self, account: i64) -> Option<i64> {
        let drained = self.drained_at_ms?;
        Some(
            self.drift
                .iter()
                .find(|d| d.0 == account)
                .map_or(drained, |d| d.2.min(drained)),
        )
    }
}

/// How many sessions the breakdown lists.
pub const TOP_SESSIONS: i64 = 20;

/// The signed-in account's usage over `range` (a [`Range::key`]), by day or by hour.
#[server(endpoint = "usage")]
pub async fn load_usage(range: String, by_day: bool) -> Result<UsageReport, ServerFnError> {
    use crate::api::{access, zone};
    let (db, account) = access::signed_in()?;
    let unavailable = access::internal("your usage is");
    let range = Range::from_key(&range);
    let tz = zone::of(&db, account).await;
    let now = store::now_ms();
    let window = zone::Window::last(range, now);
    let series = store::usage::hourly_series(&db, account, window.from, window.to)
        .await
        .map_err(&unavailable)?;
    let buckets = window.buckets(&series, by_day, tz);
    let share = |name: String, t: store::usage::UsageTotals| ShareRow {
        name,
        bytes: t.bytes(),
        requests: t.requests,
    };
    let countries = store::usage::by_country(&db, account, window.from, window.to)
        .await
        .map_err(&unavailable)?
        .into_iter()
        .map(|c| share(c.country, c.totals))
        .collect();
    let sessions = store::usage::by_session(&db, account, window.from, window.to, TOP_SESSIONS)
        .await
        .map_err(&unavailable)?
        .into_iter()
        .map(|s| share(s.session, s.totals))
        .collect();
    let quota = ssr::quota(&db, account, tz, now)
        .await
        .map_err(&unavailable)?;
    let reconciled_until = use_context::<ssr::ReconciliationSource>()
        .and_then(|source| (source.0)().until(account.0))
        .map(|ms| {
            let same_day = zone::format(tz, ms, "%Y-%m-%d") == zone::format(tz, now, "%Y-%m-%d");
            zone::format(tz, ms, if same_day { "%H:%M" } else { "%Y-%m-%d %H:%M" })
        });
    Ok(UsageReport {
        range,
        by_day,
        time_zone: tz.name().to_owned(),
        chart: crate::charts::traffic(&buckets),
        rows: buckets
            .into_iter()
            .map(|b| UsageRow {
                label: b.label,
                bytes_up: b.bytes_up,
                bytes_down: b.bytes_down,
                requests: b.requests,
                errors: b.errors,
            })
            .collect(),
        quota,
        reconciled_until,
        countries,
        sessions,
    })
}

/// Server side: the quota and its projection.
#[cfg(feature = "ssr")]
pub mod ssr {
    /// The gateways' latest reconciliation, from the live statistics.
    #[derive(Clone)]
    pub struct ReconciliationSource(
        pub std::sync::Arc<dyn Fn() -> super::Reconciliation + Send + Sync>,
    );

    use chrono_tz::Tz;

    use super::{Projection, Quota};
    use crate::api::zone;

    /// The live plan's period and what the account has used of it.
    #[derive(Clone, Debug)]
    pub struct PeriodUse {
        /// The live subscription.
        pub subscription: store::subscriptions::Subscription,
        /// Its plan (`None` only if the plan row is gone).
        pub plan: Option<store::plans::Plan>,
        /// Bytes used this period (as flushed).
        pub used_bytes: i64,
    }

    /// The live plan's period and its use at `now`, or `None` without a plan. Used is
    /// counted as the gateway counts: from the hour holding the period's start.
    pub async fn period_use(
        db: &store::Db,
        account: store::AccountId,
        now: i64,
    ) -> store::Result<Option<PeriodUse>> {
        let Some(subscription) = store::subscriptions::current(db, account, now).await? else {
            return Ok(None);
        };
        let plan = store::plans::by_id(db, subscription.plan_id).await?;
        let from = store::usage::hour_floor(subscription.period_start);
        let used_bytes = store::usage::totals(db, account, from, now + store::HOUR_MS)
            .await?
            .bytes();
        Ok(Some(PeriodUse {
            subscription,
            plan,
            used_bytes,
        }))
    }

    /// The live plan's quota at `now`, or `None` without a plan.
    pub async fn quota(
        db: &store::Db,
        account: store::AccountId,
        tz: Tz,
        now: i64,
    ) -> store::Result<Option<Quota>> {
        let Some(PeriodUse {
            subscription: sub,
            plan,
            used_bytes: used,
        }) = period_use(db, account, now).await?
        else {
            return Ok(None);
        };
        let bandwidth = plan.as_ref().and_then(|p| p.bandwidth_bytes);
        Ok(Some(Quota {
            plan: plan.map_or_else(|| "your plan".to_owned(), |p| p.name),
            bandwidth_bytes: bandwidth,
            used_bytes: used,
            period_start: zone::date_time(tz, sub.period_start),
            period_end: zone::date_time(tz, sub.period_end),
            projection: match project(bandwidth, used, sub.period_start, sub.period_end, now) {
                Pace::RunsOutAt(at) => Projection::RunsOut {
                    at: zone::date_time(tz, at),
                },
                Pace::Unlimited => Projection::Unlimited,
                Pace::NoUse => Projection::NoUse,
                Pace::Lasts(projected_bytes) => Projection::Lasts { projected_bytes },
                Pace::UsedUp => Projection::UsedUp,
            },
        }))
    }

    /// The projection before formatting.
    #[derive(Debug, PartialEq, Eq)]
    pub enum Pace {
        /// No limit.
        Unlimited,
        /// Nothing used.
        NoUse,
        /// Enough until the period's end; projected use then.
        Lasts(i64),
        /// Runs out at this time (epoch ms).
        RunsOutAt(i64),
        /// Used up.
        UsedUp,
    }

    /// Linear projection of `used` bytes over `[start, now]` to the period's end.
    pub fn project(bandwidth: Option<i64>, used: i64, start: i64, end: i64, now: i64) -> Pace {
        let Some(bandwidth) = bandwidth else {
            return Pace::Unlimited;
        };
        if used >= bandwidth {
            return Pace::UsedUp;
        }
        if used <= 0 {
            return Pace::NoUse;
        }
        // Exact integer arithmetic: bytes × milliseconds fits in i128.
        let elapsed = i128::from((now - start).max(60_000));
        let (used, bandwidth) = (i128::from(used), i128::from(bandwidth));
        let runs_out = i128::from(now) + (bandwidth - used) * elapsed / used;
        if runs_out < i128::from(end) {
            Pace::RunsOutAt(i64::try_from(runs_out).unwrap_or(i64::MAX))
        } else {
            let projected = used + used * i128::from((end - now).max(0)) / elapsed;
            Pace::Lasts(i64::try_from(projected).unwrap_or(i64::MAX))
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        const DAY: i64 = 86_400_000;

        #[test]
        fn projections_follow_the_pace_so_far() {
            // 10 of 100 GB in 10 of 30 days: lasts, about 30 GB by the end.
            let gb = 1_000_000_000;
            assert_eq!(
                project(Some(100 * gb), 10 * gb, 0, 30 * DAY, 10 * DAY),
                Pace::Lasts(30 * gb)
            );
            // 50 GB in 10 days: runs out on day 20.
            assert_eq!(
                project(Some(100 * gb), 50 * gb, 0, 30 * DAY, 10 * DAY),
                Pace::RunsOutAt(20 * DAY)
            );
            assert_eq!(project(None, 5, 0, DAY, 1), Pace::Unlimited);
            assert_eq!(project(Some(10), 0, 0, DAY, 1), Pace::NoUse);
            assert_eq!(project(Some(10), 10, 0, DAY, 1), Pace::UsedUp);
        }
    }
}
