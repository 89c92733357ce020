//! Server side: ECharts options (built with `charming`) for the dashboard's charts. The page
//! ships the option as JSON and the browser draws it with the ECharts we serve ourselves.

use charming::Chart;
use charming::component::{Axis, Grid, Legend};
use charming::element::{AxisType, Orient, Tooltip, Trigger};
use charming::series::{Bar, Line, Pie};

use crate::api::traffic::{ErrorRow, ShareRow};
use crate::api::zone::Bucket;

/// Bytes are charted in one unit chosen from the largest value, so the axis stays readable.
fn unit_for(max: i64) -> (&'static str, f64) {
    const UNITS: [(&str, f64); 5] = [
        ("TB", 1e12),
        ("GB", 1e9),
        ("MB", 1e6),
        ("KB", 1e3),
        ("B", 1.0),
    ];
    let max = max as f64;
    UNITS
        .into_iter()
        .find(|(_, size)| max >= *size)
        .unwrap_or(("B", 1.0))
}

fn scaled(values: impl Iterator<Item = i64>, size: f64) -> Vec<f64> {
    values
        .map(|v| ((v as f64 / size) * 100.0).round() / 100.0)
        .collect()
}

fn base() -> Chart {
    Chart::new()
        .animation(false)
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .grid(
            Grid::new()
                .left("3%")
                .right("3%")
                .bottom("3%")
                .top("14%")
                .contain_label(true),
        )
}

fn to_json(chart: &Chart) -> String {
    serde_json::to_string(chart).unwrap_or_else(|_| "{}".to_owned())
}

/// Bytes up and down per bucket, stacked.
pub fn traffic(buckets: &[Bucket]) -> String {
    let max = buckets
        .iter()
        .map(|b| b.bytes_up + b.bytes_down)
        .max()
        .unwrap_or(0);
    let (unit, size) = unit_for(max);
    let labels: Vec<String> = buckets.iter().map(|b| b.label.clone()).collect();
    let chart = base()
        .legend(Legend::new().top("0").data(vec!["Down", "Up"]))
        .x_axis(Axis::new().type_(AxisType::Category).data(labels))
        .y_axis(Axis::new().type_(AxisType::Value).name(unit))
        .series(
            Bar::new()
                .name("Down")
                .stack("bytes")
                .data(scaled(buckets.iter().map(|b| b.bytes_down), size)),
        )
        .series(
            Bar::new()
                .name("Up")
                .stack("bytes")
                .data(scaled(buckets.iter().map(|b| b.bytes_up), size)),
        );
    to_json(&chart)
}

/// Requests and failed requests per bucket.
pub fn requests(buckets: &[Bucket]) -> String {
    let labels: Vec<String> = buckets.iter().map(|b| b.label.clone()).collect();
    let chart = base()
        .legend(Legend::new().top("0").data(vec!["Requests", "Errors"]))
        .x_axis(Axis::new().type_(AxisType::Category).data(labels))
        .y_axis(Axis::new().type_(AxisType::Value).min_interval(1))
        .series(
            Line::new()
                .name("Requests")
                .show_symbol(false)
                .data(buckets.iter().map(|b| b.requests).collect()),
        )
        .series(
            Line::new()
                .name("Errors")
                .show_symbol(false)
                .data(buckets.iter().map(|b| b.errors).collect()),
        );
    to_json(&chart)
}

/// Failed requests by error code, as horizontal bars.
pub fn errors(rows: &[ErrorRow]) -> String {
    let chart = base()
        .y_axis(
            Axis::new()
                .type_(AxisType::Category)
                .data(rows.iter().rev().map(|r| r.code.clone()).collect()),
        )
        .x_axis(Axis::new().type_(AxisType::Value).min_interval(1))
        .series(
            Bar::new()
                .name("Failed requests")
                .data(rows.iter().rev().map(|r| r.count).collect()),
        );
    to_json(&chart)
}

/// Bytes by exit country, as a ring.
pub fn countries(rows: &[ShareRow]) -> String {
    let max = rows.iter().map(|r| r.bytes).max().unwrap_or(0);
    let (unit, size) = unit_for(max);
    let data: Vec<(f64, String)> = rows
        .iter()
        .map(|r| {
            let name = if r.name.is_empty() {
                "Direct".to_owned()
            } else {
                r.name.to_uppercase()
            };
            (((r.bytes as f64 / size) * 100.0).round() / 100.0, name)
        })
        .collect();
    let chart = Chart::new()
        .animation(false)
        .tooltip(Tooltip::new().trigger(Trigger::Item))
        .legend(Legend::new().orient(Orient::Vertical).left("left"))
        .series(
            Pie::new()
                .name(format!("Traffic ({unit})"))
                .radius(vec!["40%", "70%"])
                .data(data),
        );
    to_json(&chart)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_the_largest_value() {
        assert_eq!(unit_for(0).0, "B");
        assert_eq!(unit_for(999).0, "B");
        assert_eq!(unit_for(1_500).0, "KB");
        assert_eq!(unit_for(2_000_000_000).0, "GB");
        assert_eq!(scaled([1_234_567].into_iter(), 1e6), vec![1.23]);
    }

    #[test]
    fn charts_are_echarts_options_with_our_numbers() {
        let buckets = vec![
            Bucket {
                label: "09:00".to_owned(),
                bytes_down: 2_000_000,
                requests: 3,
                ..Bucket::default()
            },
            Bucket {
                label: "10:00".to_owned(),
                bytes_up: 1_000_000,
                requests: 5,
                errors: 1,
                ..Bucket::default()
            },
        ];
        let traffic: serde_json::Value = serde_json::from_str(&traffic(&buckets)).expect("JSON");
        assert_eq!(traffic["animation"], false);
        assert_eq!(
            traffic["xAxis"]["data"],
            serde_json::json!(["09:00", "10:00"])
        );
        assert_eq!(traffic["yAxis"]["name"], "MB");
        assert_eq!(traffic["series"][0]["data"], serde_json::json!([2.0, 0.0]));
        let requests: serde_json::Value = serde_json::from_str(&requests(&buckets)).expect("JSON");
        assert_eq!(requests["series"][0]["data"], serde_json::json!([3, 5]));
        assert_eq!(requests["series"][1]["data"], serde_json::json!([0, 1]));
    }
}
