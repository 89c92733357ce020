//! `/servers`: the exits your traffic can leave through, grouped by pool and country, with
//! their health. Administrators also add, test, enable/disable and remove exits here.

use leptos::prelude::*;

use crate::api::servers::{NodeRow, ServerRow, ServersView, servers_overview};
use crate::components::empty_state::EmptyState;
use crate::components::load_error::{LoadError, Skeleton};
use crate::components::outcome::OutcomeNotice;
use crate::components::page_header::PageHeader;
use crate::outcome::Page;

/// The servers page.
#[component]
pub fn ServersPage() -> impl IntoView {
    let servers = Resource::new(|| (), |()| servers_overview());
    let retry = Callback::new(move |()| servers.refetch());
    view! {
        <PageHeader title="Servers" subtitle="Exits by pool and country, with their health." />
        <OutcomeNotice page=Page::Servers />
        <Suspense fallback=|| view! { <Skeleton /> }>
            {move || Suspend::new(async move {
                match servers.await {
                    Ok(view) => view! { <Servers view /> }.into_any(),
                    Err(e) => view! { <LoadError error=e.to_string() retry /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Servers(view: ServersView) -> impl IntoView {
    let admin = view.admin;
    let summary = format!("{} of {} exits healthy", view.healthy, view.enabled);
    let body = if view.pools.is_empty() {
        view! {
            <EmptyState
                heading="No exits yet"
                body="Without upstream exits your traffic leaves directly from the gateway. Upstream exits appear here with their health, latency and success rate once an operator adds them."
            />
        }
        .into_any()
    } else {
        view.pools
            .into_iter()
            .map(|pool| {
                view! {
                    <section class="card pool" aria-label=format!("Pool {}", pool.pool)>
                        <h2>{format!("Pool “{}”", pool.pool)}</h2>
                        {pool
                            .countries
                            .into_iter()
                            .map(|c| {
                                view! {
                                    <h3 class="country-head">{c.country.to_uppercase()}</h3>
                                    <ServerTable exits=c.exits admin />
                                }
                                .into_any()
                            })
                            .collect_view()}
                    </section>
                }
                .into_any()
            })
            .collect_view()
            .into_any()
    };
    view! {
        {view.nodes.map(|nodes| view! { <Nodes nodes admin /> })}
        <p class="muted" id="servers-summary">{summary}</p>
        {body}
        {admin.then(|| view! { <AddExit /> })}
    }
}

/// The cluster's nodes with their health (shown when the service runs as several).
#[component]
fn Nodes(nodes: Vec<NodeRow>, admin: bool) -> impl IntoView {
    let up = nodes.iter().filter(|n| n.health != "down").count();
    let summary = format!("{up} of {} nodes up", nodes.len());
    view! {
        <section class="card pool" id="nodes" aria-labelledby="nodes-heading">
            <h2 id="nodes-heading">"Gateway nodes"</h2>
            <p class="muted" id="nodes-summary">{summary}</p>
            <div class="table-scroll">
                <table class="table servers-table">
                    <thead>
                        <tr>
                            <th scope="col">"Node"</th>
                            <th scope="col">"Region"</th>
                            <th scope="col">"Health"</th>
                            <th scope="col">"Open"</th>
                            {admin.then(|| view! { <th scope="col">"Load"</th> })}
                            <th scope="col">"Last report"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {nodes
                            .into_iter()
                            .map(|n| view! { <NodeLine node=n admin /> }.into_any())
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

#[component]
fn NodeLine(node: NodeRow, admin: bool) -> impl IntoView {
    let health_class = format!(
        "health health-{}",
        match node.health.as_str() {
            "up" => "healthy",
            "down" => "unhealthy",
            _ => "unknown",
        }
    );
    view! {
        <tr id=format!("node-{}", node.node) data-health=node.health.clone()>
            <td>
                <strong>{node.node.clone()}</strong>
                " "
                <span class="muted small">{node.role.clone()}</span>
                {node.detail.map(|d| view! { <br /> <code class="small">{d}</code> })}
            </td>
            <td>{node.region.clone()}</td>
            <td><span class=health_class>{node.health.clone()}</span></td>
            <td>{node.open_connections}</td>
            {admin.then(|| view! { <td>{node.load.map_or_else(|| "—".to_owned(), |l| format!("{l:.2}"))}</td> })}
            <td class="nowrap">{format!("{} s ago", node.seen_secs_ago)}</td>
        </tr>
    }
    .into_any()
}

#[component]
fn ServerTable(exits: Vec<ServerRow>, admin: bool) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="table servers-table">
                <thead>
                    <tr>
                        <th scope="col">"Exit"</th>
                        <th scope="col">"Health"</th>
                        <th scope="col">"Latency"</th>
                        <th scope="col">"Success"</th>
                        <th scope="col">"Open"</th>
                        <th scope="col">"Last check"</th>
                        {admin.then(|| view! { <th scope="col"><span class="visually-hidden">"Actions"</span></th> })}
                    </tr>
                </thead>
                <tbody>{exits.into_iter().map(|e| view! { <ServerLine exit=e admin /> }.into_any()).collect_view()}</tbody>
            </table>
        </div>
    }
}

#[component]
fn ServerLine(exit: ServerRow, admin: bool) -> impl IntoView {
    let id = exit.id.to_string();
    let title = match &exit.city {
        Some(city) => format!("{} · {city}", exit.name),
        None => exit.name.clone(),
    };
    let health_class = format!("health health-{}", exit.health);
    let actions = admin.then(|| {
        let id = id.clone();
        view! {
            <td class="table-actions">
                <form method="post" action="/admin/exits/test" class="inline-form">
                    <input type="hidden" name="id" value=id.clone() />
                    <button class="button button-quiet button-small" type="submit">"Test"</button>
                </form>
                <form method="post" action="/admin/exits/enabled" class="inline-form">
                    <input type="hidden" name="id" value=id.clone() />
                    {(!exit.enabled).then(|| view! { <input type="hidden" name="enabled" value="1" /> })}
                    <button class="button button-quiet button-small" type="submit">
                        {if exit.enabled { "Disable" } else { "Enable" }}
                    </button>
                </form>
                <form method="post" action="/admin/exits/remove" class="inline-form">
                    <input type="hidden" name="id" value=id />
                    <button class="button button-quiet button-small" type="submit">"Remove"</button>
                </form>
            </td>
        }
        .into_any()
    });
    view! {
        <tr id=format!("exit-{}", exit.id) data-health=exit.health.clone()>
            <td>
                <strong>{title}</strong>
                {exit.upstream.map(|u| view! { <br /> <code class="small">{u}</code> })}
            </td>
            <td>
                <span class=health_class>{exit.health.clone()}</span>
                {exit.last_error.map(|e| view! { <br /> <span class="muted small">{e}</span> })}
            </td>
            <td>{exit.latency_ms.map_or_else(|| "—".to_owned(), |ms| format!("{ms} ms"))}</td>
            <td>{exit.success_rate.map_or_else(|| "—".to_owned(), |r| format!("{:.1} %", r * 100.0))}</td>
            <td>{exit.active_connections}</td>
            <td class="nowrap">{exit.last_check.unwrap_or_else(|| "not yet".to_owned())}</td>
            {actions}
        </tr>
    }
    .into_any()
}

#[component]
fn AddExit() -> impl IntoView {
    view! {
        <section id="add-exit" class="card settings-section" aria-labelledby="add-exit-heading">
            <h2 id="add-exit-heading">"Add an exit"</h2>
            <form method="post" action="/admin/exits" class="row-form">
                <label for="exit-url">"Upstream URL"</label>
                <input id="exit-url" name="url" type="text" required placeholder="socks5://user:pass@host:1080" spellcheck="false" />
                <label for="exit-country">"Country"</label>
                <input id="exit-country" name="country" type="text" required minlength="2" maxlength="2" pattern="[A-Za-z]{2}" placeholder="ng" />
                <label for="exit-city">"City"</label>
                <input id="exit-city" name="city" type="text" placeholder="lagos" />
                <label for="exit-pool">"Pool"</label>
                <input id="exit-pool" name="pool" type="text" placeholder="default" />
                <label for="exit-name">"Name customers see"</label>
                <input id="exit-name" name="name" type="text" maxlength="64" placeholder="NG #id" />
                <label class="checkbox" for="exit-forward-names">
                    <input id="exit-forward-names" name="forward_names" type="checkbox" value="1" />
                    " Forward destination names (the upstream resolves them)"
                </label>
                <button class="button" type="submit">"Add exit"</button>
            </form>
        </section>
    }
}
