//! `/admin`: every account, and the exits with add / enable / disable / remove. Administrators
//! only: the server function answers customers with 403 and the page says so.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::admin::{Administration, ExitRow, admin_overview};
use crate::components::page_header::PageHeader;
use crate::format::count;

/// The administration page.
#[component]
pub fn AdminPage() -> impl IntoView {
    let overview = OnceResource::new(admin_overview());
    view! {
        <PageHeader title="Administration" subtitle="Accounts and exits." />
        <Outcome />
        <Suspense fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(overview) => view! { <Overview overview /> }.into_any(),
                    Err(e) => view! { <p class="notice notice-error" role="alert">{e.to_string()}</p> }
                        .into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Outcome() -> impl IntoView {
    let query = use_query_map();
    move || {
        query.with(|q| {
            let (class, text) = match (q.get("notice").as_deref(), q.get("error").as_deref()) {
                (Some("exit_added"), _) => ("notice notice-ok", "Exit added. The gateway uses it within seconds."),
                (Some("exit_removed"), _) => ("notice notice-ok", "Exit removed."),
                (Some("exit.enabled"), _) => ("notice notice-ok", "Exit enabled."),
                (Some("exit.disabled"), _) => ("notice notice-ok", "Exit disabled."),
                (_, Some("exit_invalid")) => (
                    "notice notice-error",
                    "Check the URL (http://[user:pass@]host:port or socks5://…) and the two-letter country.",
                ),
                (_, Some("exit_duplicate")) => ("notice notice-error", "An exit with that URL exists already."),
                _ => return None,
            };
            Some(view! { <p class=class role="status">{text}</p> })
        })
    }
}

#[component]
fn Overview(overview: Administration) -> impl IntoView {
    view! {
        <section id="accounts" class="card settings-section" aria-labelledby="accounts-heading">
            <h2 id="accounts-heading">{format!("Accounts ({})", count(overview.account_count))}</h2>
            <table class="table" id="accounts-table">
                <thead>
                    <tr><th scope="col">"Id"</th><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"2FA"</th></tr>
                </thead>
                <tbody>
                    {overview.accounts.into_iter().map(|a| view! {
                        <tr>
                            <td>{a.id}</td>
                            <td>{a.email}</td>
                            <td>{if a.admin { "admin" } else { "customer" }}</td>
                            <td>{if a.two_factor { "on" } else { "off" }}</td>
                        </tr>
                    }.into_any()).collect_view()}
                </tbody>
            </table>
        </section>
        <section id="exits" class="card settings-section" aria-labelledby="exits-heading">
            <h2 id="exits-heading">"Exits"</h2>
            <table class="table" id="exits-table">
                <thead>
                    <tr>
                        <th scope="col">"Id"</th><th scope="col">"Upstream"</th><th scope="col">"Where"</th>
                        <th scope="col">"Pool"</th><th scope="col">"Health"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {overview.exits.into_iter().map(|e| view! { <ExitLine exit=e /> }.into_any()).collect_view()}
                </tbody>
            </table>
            <form method="post" action="/admin/exits" class="row-form">
                <label for="exit-url">"Upstream URL"</label>
                <input id="exit-url" name="url" type="text" required placeholder="socks5://user:pass@host:1080" spellcheck="false" />
                <label for="exit-country">"Country"</label>
                <input id="exit-country" name="country" type="text" required maxlength="2" placeholder="ng" />
                <label for="exit-city">"City"</label>
                <input id="exit-city" name="city" type="text" placeholder="lagos" />
                <label for="exit-pool">"Pool"</label>
                <input id="exit-pool" name="pool" type="text" placeholder="default" />
                <button class="button" type="submit">"Add exit"</button>
            </form>
        </section>
    }
}

#[component]
fn ExitLine(exit: ExitRow) -> impl IntoView {
    let place = match &exit.city {
        Some(city) => format!("{} · {city}", exit.country.to_uppercase()),
        None => exit.country.to_uppercase(),
    };
    let health = match exit.last_latency_ms {
        Some(ms) => format!("{} ({ms} ms)", exit.health),
        None => exit.health.clone(),
    };
    let id = exit.id.to_string();
    view! {
        <tr>
            <td>{exit.id}</td>
            <td><code>{exit.url.clone()}</code></td>
            <td>{place}</td>
            <td>{exit.pool.clone()}</td>
            <td>{health}{(!exit.enabled).then_some(" · disabled")}</td>
            <td class="table-actions">
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
        </tr>
    }
}
