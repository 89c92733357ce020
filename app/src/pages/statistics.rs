//! `/`: the statistics page: live traffic tiles and charts of the last 24 hours, 7 or 30 days.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::traffic::{Range, TrafficHistory, load_traffic};
use crate::components::chart::Chart;
use crate::components::empty_state::EmptyState;
use crate::components::live_tiles::LiveTiles;
use crate::components::load_error::{LoadError, Skeleton};
use crate::components::page_header::PageHeader;
use crate::components::range_picker::RangePicker;
use crate::format;

/// The statistics page.
#[component]
pub fn StatisticsPage() -> impl IntoView {
    let query = use_query_map();
    let range = Signal::derive(move || {
        Range::from_key(&query.with(|q| q.get("range")).unwrap_or_default())
    });
    let history = Resource::new(move || range.get(), |r| load_traffic(r.key().to_owned()));
    let retry = Callback::new(move |()| history.refetch());
    view! {
        <PageHeader title="Statistics" subtitle="Live traffic through your proxy credentials, and its history." />
        <LiveTiles />
        <div class="section-head">
            <h2>"History"</h2>
            <RangePicker path="/" current=range />
        </div>
        <Suspense fallback=|| view! { <Skeleton /> }>
            {move || Suspend::new(async move {
                match history.await {
                    Ok(h) => view! { <History history=h /> }.into_any(),
                    Err(e) => view! { <LoadError error=e.to_string() retry /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn History(history: TrafficHistory) -> impl IntoView {
    let t = history.totals;
    if t.requests == 0 && t.bytes_up + t.bytes_down == 0 {
        return view! {
            <EmptyState
                heading="No traffic in this range"
                body="Charts of bandwidth, requests, errors and countries appear once traffic goes through the gateway with your proxy credentials."
            >
                <a class="button" href="/settings#connect">"Build a proxy URL"</a>
            </EmptyState>
        }
        .into_any();
    }
    let success = if t.requests > 0 {
        format!(
            "{:.1} %",
            (t.requests - t.errors) as f64 * 100.0 / t.requests as f64
        )
    } else {
        "—".to_owned()
    };
    let range = history.range.label();
    let charts = vec![
        view! {
            <figure class="card chart-card">
                <figcaption>"Bandwidth"</figcaption>
                <Chart id="chart-traffic" option=history.traffic_chart label=format!("Bytes down and up over the last {range}") />
            </figure>
        }
        .into_any(),
        view! {
            <figure class="card chart-card">
                <figcaption>"Requests and errors"</figcaption>
                <Chart id="chart-requests" option=history.requests_chart label=format!("Requests and failed requests over the last {range}") />
            </figure>
        }
        .into_any(),
        history
            .errors_chart
            .map(|option| {
                view! {
                    <figure class="card chart-card">
                        <figcaption>"Errors by code"</figcaption>
                        <Chart id="chart-errors" option label="Failed requests by error code".to_owned() />
                        <ErrorTable rows=history.errors.clone() />
                    </figure>
                }
            })
            .into_any(),
        history
            .countries_chart
            .map(|option| {
                view! {
                    <figure class="card chart-card">
                        <figcaption>"Traffic by country"</figcaption>
                        <Chart id="chart-countries" option label="Bytes by exit country".to_owned() />
                        <CountryTable rows=history.countries.clone() />
                    </figure>
                }
            })
            .into_any(),
    ];
    view! {
        <dl class="totals" id="history-totals">
            <div><dt>"Downloaded"</dt><dd id="total-down">{format::bytes(t.bytes_down.max(0) as u64)}</dd></div>
            <div><dt>"Uploaded"</dt><dd id="total-up">{format::bytes(t.bytes_up.max(0) as u64)}</dd></div>
            <div><dt>"Requests"</dt><dd id="total-requests">{format::count(t.requests)}</dd></div>
            <div><dt>"Success rate"</dt><dd id="total-success">{success}</dd></div>
        </dl>
        <p class="muted small">{format!("Times in {}. Counts are flushed from the gateway every few seconds.", history.time_zone)}</p>
        <div class="chart-grid">{charts}</div>
    }
    .into_any()
}

#[component]
fn ErrorTable(rows: Vec<crate::api::traffic::ErrorRow>) -> impl IntoView {
    view! {
        <table class="table" id="errors-table">
            <thead><tr><th scope="col">"Code"</th><th scope="col">"Count"</th><th scope="col">"What to do"</th></tr></thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|r| view! { <tr><td><code>{r.code}</code></td><td>{format::count(r.count)}</td><td>{r.hint}</td></tr> })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn CountryTable(rows: Vec<crate::api::traffic::ShareRow>) -> impl IntoView {
    view! {
        <table class="table" id="countries-table">
            <thead><tr><th scope="col">"Country"</th><th scope="col">"Traffic"</th><th scope="col">"Requests"</th></tr></thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|r| {
                        let name = if r.name.is_empty() { "Direct (unknown)".to_owned() } else { r.name.to_uppercase() };
                        view! { <tr><td>{name}</td><td>{format::bytes(r.bytes.max(0) as u64)}</td><td>{format::count(r.requests)}</td></tr> }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
