//! `/admin`: every account. Exits are managed on `/servers`. Administrators only: the server
//! function answers customers with 403 and the page says so.

use leptos::prelude::*;

use crate::api::admin::{Administration, admin_overview};
use crate::components::page_header::PageHeader;
use crate::format::count;

/// The administration page.
#[component]
pub fn AdminPage() -> impl IntoView {
    let overview = OnceResource::new(admin_overview());
    view! {
        <PageHeader title="Administration" subtitle="Accounts. Exits are managed on the Servers page." />
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
        <p><a href="/servers">"Manage exits on the Servers page"</a></p>
    }
}
