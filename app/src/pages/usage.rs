//! `/usage`: bandwidth per hour or day over a chosen range, the period's quota with a
//! projection, breakdowns by country and by sticky session, CSV export, and the live session
//! inspector.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::traffic::{Range, ShareRow};
use crate::api::usage::{Projection, Quota, UsageReport, load_usage};
use crate::components::chart::Chart;
use crate::components::load_error::{LoadError, Skeleton};
use crate::components::page_header::PageHeader;
use crate::components::range_picker::RangePicker;
use crate::components::session_inspector::SessionInspector;
use crate::format;

/// The usage page. `?range=24h|7d|30d` (30 days by default) and `?by=hour|day`.
#[component]
pub fn UsagePage() -> impl IntoView {
    let query = use_query_map();
    let range = Signal::derive(move || {
        query
            .with(|q| q.get("range"))
            .map_or(Range::Month, |k| Range::from_key(&k))
    });
    let by_day = Signal::derive(move || match query.with(|q| q.get("by")).as_deref() {
        Some("day") => true,
        Some("hour") => false,
        _ => range.get() == Range::Month,
    });
    let report = Resource::new(
        move || (range.get(), by_day.get()),
        |(r, by_day)| load_usage(r.key().to_owned(), by_day),
    );
    let retry = Callback::new(move |()| report.refetch());
    let csv = move || {
        format!(
            "/usage.csv?range={}&by={}",
            range.get().key(),
            if by_day.get() { "day" } else { "hour" }
        )
    };
    let by_link = move |day: bool| {
        format!(
            "/usage?range={}&by={}",
            range.get().key(),
            if day { "day" } else { "hour" }
        )
    };
    view! {
        <PageHeader title="Usage" subtitle="Bandwidth and requests over time, against your plan's quota." />
        <Suspense fallback=|| view! { <Skeleton short=true /> }>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(r) => view! { <QuotaCard quota=r.quota reconciled=r.reconciled_until /> }.into_any(),
                    Err(_) => ().into_any(),
                }
            })}
        </Suspense>
        <div class="section-head">
            <h2>"Bandwidth"</h2>
            <RangePicker path="/usage" current=range />
            <nav class="range-picker" aria-label="Granularity">
                <a class="range-link" id="by-hour" href=move || by_link(false) aria-current=move || (!by_day.get()).then_some("true")>"Hourly"</a>
                <a class="range-link" id="by-day" href=move || by_link(true) aria-current=move || by_day.get().then_some("true")>"Daily"</a>
            </nav>
            <a class="button button-quiet button-small" id="export-csv" href=csv download="">"Export CSV"</a>
        </div>
        <Suspense fallback=|| view! { <Skeleton /> }>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(r) => view! { <Report report=r /> }.into_any(),
                    Err(e) => view! { <LoadError error=e.to_string() retry /> }.into_any(),
                }
            })}
        </Suspense>
        <SessionInspector />
    }
}

#[component]
fn QuotaCard(quota: Option<Quota>, reconciled: Option<String>) -> impl IntoView {
    let reconciled = reconciled.map(|at| {
        view! {
            <p class="muted small" id="reconciled">
                {format!("Metered totals reconciled up to {at}.")}
            </p>
        }
    });
    let Some(q) = quota else {
        return view! {
            <section class="card quota" id="quota">
                <h2>"No active plan"</h2>
                <p class="muted">"The gateway refuses traffic without a plan. "<a href="/billing">"Choose a plan"</a>"."</p>
            </section>
        }
        .into_any();
    };
    let used = format::bytes(q.used_bytes.max(0) as u64);
    let (meter, of) = match q.bandwidth_bytes {
        Some(total) => {
            let percent = if total > 0 {
                (q.used_bytes as f64 * 100.0 / total as f64).min(100.0)
            } else {
                100.0
            };
            (
                view! {
                    <meter id="quota-meter" min="0" max=total.to_string() low=(total * 8 / 10).to_string() high=(total * 95 / 100).to_string() optimum="0" value=q.used_bytes.to_string() aria-label="Bandwidth used this period"></meter>
                }
                .into_any(),
                format!("{used} of {} ({percent:.1} %)", format::bytes(total.max(0) as u64)),
            )
        }
        None => (().into_any(), format!("{used} (unlimited)")),
    };
    let projection = match q.projection {
        Projection::Unlimited => "Your plan has no bandwidth limit.".to_owned(),
        Projection::NoUse => "Nothing used yet this period.".to_owned(),
        Projection::Lasts { projected_bytes } => format!(
            "At this pace you will use about {} by the period's end: enough.",
            format::bytes(projected_bytes.max(0) as u64)
        ),
        Projection::RunsOut { at } => {
            format!("At this pace it runs out around {at}, before the period ends.")
        }
        Projection::UsedUp => {
            "Used up: the gateway refuses new requests until the next period or an upgrade."
                .to_owned()
        }
    };
    view! {
        <section class="card quota" id="quota" aria-labelledby="quota-heading">
            <h2 id="quota-heading">{format!("{} — this period", q.plan)}</h2>
            {meter}
            <p class="quota-used" id="quota-used"><strong>{of}</strong></p>
            <p class="muted" id="quota-projection">{projection}</p>
            <p class="muted small">{format!("Period {} – {}", q.period_start, q.period_end)}</p>
            {reconciled}
        </section>
    }
    .into_any()
}

#[component]
fn Report(report: UsageReport) -> impl IntoView {
    let unit = if report.by_day { "Day" } else { "Hour" };
    let any = report
        .rows
        .iter()
        .any(|r| r.requests > 0 || r.bytes_up + r.bytes_down > 0);
    let rows = report.rows.clone();
    vec![
        view! {
            <figure class="card chart-card chart-wide">
                <figcaption>{format!("Bandwidth per {} ({})", unit.to_lowercase(), report.time_zone)}</figcaption>
                <Chart id="chart-usage" option=report.chart label=format!("Bandwidth per {} over the last {}", unit.to_lowercase(), report.range.label()) />
            </figure>
        }
        .into_any(),
        view! {
            <div class="breakdowns">
                <Breakdown id="usage-countries" title="By country" name_header="Country" rows=report.countries empty="No traffic in this range." countries=true />
                <Breakdown id="usage-sessions" title="By session" name_header="Session" rows=report.sessions empty="No sticky-session traffic in this range. Add -session-ID to the username to keep an exit." countries=false />
            </div>
        }
        .into_any(),
        view! {
            <details class="card table-card" open=any>
                <summary>{format!("{unit} by {}", unit.to_lowercase())}</summary>
                <div class="table-scroll">
                    <table class="table" id="usage-table">
                        <thead>
                            <tr>
                                <th scope="col">{unit}</th>
                                <th scope="col">"Down"</th>
                                <th scope="col">"Up"</th>
                                <th scope="col">"Requests"</th>
                                <th scope="col">"Errors"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {rows
                                .into_iter()
                                .rev()
                                .filter(|r| r.requests > 0 || r.bytes_up + r.bytes_down > 0)
                                .map(|r| {
                                    view! {
                                        <tr>
                                            <td>{r.label}</td>
                                            <td>{format::bytes(r.bytes_down.max(0) as u64)}</td>
                                            <td>{format::bytes(r.bytes_up.max(0) as u64)}</td>
                                            <td>{format::count(r.requests)}</td>
                                            <td>{format::count(r.errors)}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                </div>
            </details>
        }
        .into_any(),
    ]
}

#[component]
fn Breakdown(
    id: &'static str,
    title: &'static str,
    name_header: &'static str,
    rows: Vec<ShareRow>,
    empty: &'static str,
    countries: bool,
) -> impl IntoView {
    let body = if rows.is_empty() {
        view! { <p class="muted">{empty}</p> }.into_any()
    } else {
        view! {
            <table class="table" id=id>
                <thead><tr><th scope="col">{name_header}</th><th scope="col">"Traffic"</th><th scope="col">"Requests"</th></tr></thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|r| {
                            let name = match (countries, r.name.is_empty()) {
                                (true, true) => "Direct (unknown)".to_owned(),
                                (true, false) => r.name.to_uppercase(),
                                (false, _) => r.name,
                            };
                            view! { <tr><td>{name}</td><td>{format::bytes(r.bytes.max(0) as u64)}</td><td>{format::count(r.requests)}</td></tr> }
                        })
                        .collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <section class="card">
            <h3>{title}</h3>
            {body}
        </section>
    }
}
