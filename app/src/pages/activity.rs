//! `/activity`: the account's events, newest first, by page and filtered by family
//! (`?filter=security&page=2`; links, so it works without JavaScript).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::activity::{ActivityPage, FILTERS, load_activity};
use crate::components::empty_state::EmptyState;
use crate::components::load_error::{LoadError, Skeleton};
use crate::components::page_header::PageHeader;

/// The activity page.
#[component]
pub fn ActivityPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Signal::derive(move || {
        query
            .with(|q| q.get("filter"))
            .unwrap_or_else(|| "all".to_owned())
    });
    let page = Signal::derive(move || {
        query
            .with(|q| q.get("page"))
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(1)
    });
    let events = Resource::new(
        move || (filter.get(), page.get()),
        |(f, p)| load_activity(f, p),
    );
    let retry = Callback::new(move |()| events.refetch());
    view! {
        <PageHeader title="Activity" subtitle="Sign-ins, payments, credential changes, quota warnings and proxy errors." />
        <nav class="filter-bar" aria-label="Filter events">
            {FILTERS
                .into_iter()
                .map(|(key, label, _)| {
                    view! {
                        <a
                            href=format!("/activity?filter={key}")
                            class="filter-link"
                            id=format!("filter-{key}")
                            aria-current=move || (filter.get() == key).then_some("true")
                        >
                            {label}
                        </a>
                    }
                })
                .collect_view()}
        </nav>
        <Suspense fallback=|| view! { <Skeleton /> }>
            {move || Suspend::new(async move {
                match events.await {
                    Ok(p) => view! { <Events page=p /> }.into_any(),
                    Err(e) => view! { <LoadError error=e.to_string() retry /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Events(page: ActivityPage) -> impl IntoView {
    if page.rows.is_empty() {
        let body = if page.filter == "all" {
            "Sign-ins, payments, credential changes, quota warnings and proxy errors are listed here as they happen."
        } else {
            "Nothing of this kind yet. Choose “All” to see every event."
        };
        return view! { <EmptyState heading="No events" body /> }.into_any();
    }
    let link = {
        let filter = page.filter.clone();
        move |p: u32| format!("/activity?filter={filter}&page={p}")
    };
    let prev = (page.page > 1).then(|| link(page.page - 1));
    let next = (page.page < page.pages).then(|| link(page.page + 1));
    view! {
        <div class="card table-card">
            <table class="table" id="activity-table">
                <caption class="visually-hidden">{format!("Events, newest first, times in {}", page.time_zone)}</caption>
                <thead>
                    <tr>
                        <th scope="col">"When"</th>
                        <th scope="col">"Event"</th>
                        <th scope="col">"From"</th>
                    </tr>
                </thead>
                <tbody>
                    {page
                        .rows
                        .into_iter()
                        .map(|r| {
                            view! {
                                <tr data-kind=r.kind>
                                    <td class="nowrap">{r.when}</td>
                                    <td>
                                        <strong>{r.title}</strong>
                                        {(!r.detail.is_empty()).then(|| view! { <br /> <span class="muted">{r.detail}</span> })}
                                    </td>
                                    <td class="muted">{r.ip.unwrap_or_default()}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        <nav class="pager" aria-label="Pages">
            {prev.map(|href| view! { <a class="button button-quiet button-small" rel="prev" href=href id="page-prev">"Newer"</a> })}
            <span class="muted" id="page-of">{format!("Page {} of {} · {} events", page.page, page.pages, page.total)}</span>
            {next.map(|href| view! { <a class="button button-quiet button-small" rel="next" href=href id="page-next">"Older"</a> })}
        </nav>
    }
    .into_any()
}
