//! Traffic history for the Statistics page: totals, charts and breakdowns over the last
//! 24 hours, 7 days or 30 days, in the viewer's time zone.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// How far back a page looks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Range {
    /// The last 24 hours, by hour.
    #[default]
    Day,
    /// The last 7 days, by hour.
    Week,
    /// The last 30 days, by day.
    Month,
}

impl Range {
    /// Every range, in menu order.
    pub const ALL: [Range; 3] = [Range::Day, Range::Week, Range::Month];

    /// The query-string value (`?range=7d`).
    pub fn key(self) -> &'static str {
        match self {
            Range::Day => "24h",
            Range::Week => "7d",
            Range::Month => "30d",
        }
    }

    /// What the menu says.
    pub fn label(self) -> &'static str {
        match self {
            Range::Day => "24 hours",
            Range::Week => "7 days",
            Range::Month => "30 days",
        }
    }

    /// The range a query-string value names; the default for anything else.
    pub fn from_key(key: &str) -> Range {
        Range::ALL
            .into_iter()
            .find(|r| r.key() == key)
            .unwrap_or_default()
    }

    /// Hours covered.
    pub fn hours(self) -> i64 {
        match self {
            Range::Day => 24,
            Range::Week => 7 * 24,
            Range::Month => 30 * 24,
        }
    }

    /// Whether the chart groups hours into days.
    pub fn by_day(self) -> bool {
        self == Range::Month
    }
}

/// Summed counters of a range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Bytes toward destinations.
    pub bytes_up: i64,
    /// Bytes delivered.
    pub bytes_down: i64,
    /// Requests.
    pub requests: i64,
    /// Failed requests.
    pub errors: i64,
}

/// One row of a breakdown (a country, a session).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareRow {
    /// What the row is about (an ISO country code, a session id); `""` for unknown.
    pub name: String,
    /// Bytes both ways.
    pub bytes: i64,
    /// Requests.
    pub requests: i64,
}

/// Failed requests of one error code, with what to do about them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRow {
    /// The code (`no_exit`, `rate_limited`…).
    pub code: String,
    /// How many.
    pub count: i64,
    /// A one-line hint on fixing it.
    pub hint: String,
}

/// Everything the Statistics page draws.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrafficHistory {
    /// The range shown.
    pub range: Range,
    /// The time zone the labels are in.
    pub time_zone: String,
    /// The range's totals.
    pub totals: Totals,
    /// ECharts option (JSON) of bytes up/down over time.
    pub traffic_chart: String,
    /// ECharts option (JSON) of requests and errors over time.
    pub requests_chart: String,
    /// ECharts option (JSON) of failures by code, when there are any.
    pub errors_chart: Option<String>,
    /// ECharts option (JSON) of bytes by country, when there is any traffic.
    pub countries_chart: Option<String>,
    /// Traffic by exit country, most first.
    pub countries: Vec<ShareRow>,
    /// Failures by code, most first.
    pub errors: Vec<ErrorRow>,
}

/// The signed-in account's traffic over `range` (a [`Range::key`]).
#[server(endpoint = "traffic")]
pub async fn load_traffic(range: String) -> Result<TrafficHistory, ServerFnError> {
    use crate::api::access;
    use crate::charts;
    let (db, account) = access::signed_in()?;
    let unavailable = access::internal("your traffic history is");
    let range = Range::from_key(&range);
    let zone = crate::api::zone::of(&db, account).await;
    let now = store::now_ms();
    let window = crate::api::zone::Window::last(range, now);
    let series = store::usage::hourly_series(&db, account, window.from, window.to)
        .await
        .map_err(&unavailable)?;
    let buckets = window.buckets(&series, range.by_day(), zone);
    // The range's totals are the buckets' sum: no second read of the same rows.
    let totals = buckets.iter().fold(Totals::default(), |t, b| Totals {
        bytes_up: t.bytes_up + b.bytes_up,
        bytes_down: t.bytes_down + b.bytes_down,
        requests: t.requests + b.requests,
        errors: t.errors + b.errors,
    });
    let countries: Vec<ShareRow> = store::usage::by_country(&db, account, window.from, window.to)
        .await
        .map_err(&unavailable)?
        .into_iter()
        .map(|c| ShareRow {
            name: c.country,
            bytes: c.totals.bytes(),
            requests: c.totals.requests,
        })
        .collect();
    let errors: Vec<ErrorRow> = store::usage::errors_by_code(&db, account, window.from, window.to)
        .await
        .map_err(&unavailable)?
        .into_iter()
        .map(|(code, count)| ErrorRow {
            hint: crate::api::hints::for_code(&code).to_owned(),
            code,
            count,
        })
        .collect();
    Ok(TrafficHistory {
        range,
        time_zone: zone.name().to_owned(),
        totals,
        traffic_chart: charts::traffic(&buckets),
        requests_chart: charts::requests(&buckets),
        errors_chart: (!errors.is_empty()).then(|| charts::errors(&errors)),
        countries_chart: countries
            .iter()
            .any(|c| c.bytes > 0)
            .then(|| charts::countries(&countries)),
        countries,
        errors,
    })
}
