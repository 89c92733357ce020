//! `/admin`: every account, the usage reconciliation (accounts whose metered bytes are not all
//! in the store yet), and every IP allowlist entry with a remove button (an address belongs to
//! one account; support settles disputes here). Exits are managed on `/servers`.
//! Administrators only: the server function answers customers with 403 and the page says so.

use leptos::prelude::*;

use crate::api::admin::{Administration, AllowlistRow, DriftRow, admin_overview};
use crate::components::outcome::OutcomeNotice;
use crate::components::page_header::PageHeader;
use crate::components::remove_button::RemoveButton;
use crate::components::table::DataTable;
use crate::format::{self, count};
use crate::outcome::Page;

/// The administration page.
#[component]
pub fn AdminPage() -> impl IntoView {
    let overview = OnceResource::new(admin_overview());
    view! {
        <PageHeader title="Administration" subtitle="Accounts and IP allowlists. Exits are managed on the Servers page." />
        <OutcomeNotice page=Page::Admin />
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
        <Reconciliation drained_at=overview.drained_at drift=overview.drift />
        <Allowlists total=overview.allowlist_count entries=overview.allowlist />
        <p><a href="/servers">"Manage exits on the Servers page"</a></p>
    }
}

/// The usage reconciliation: when the gateways last drained their counts, and the accounts
/// with bytes metered but not confirmed written (drift), which a flush that fails leaves.
#[component]
fn Reconciliation(drained_at: Option<String>, drift: Vec<DriftRow>) -> impl IntoView {
    let status = match (&drained_at, drift.is_empty()) {
        (None, _) => "The gateways have not flushed their usage yet.".to_owned(),
        (Some(at), true) => format!("Every metered byte is in the store, up to {at}."),
        (Some(at), false) => format!(
            "Usage drained at {at}; these accounts have bytes metered and not yet written \
             (the gateways retry: see the runbook of AtlanticUsageDrift)."
        ),
    };
    let rows: Vec<AnyView> = drift
        .into_iter()
        .map(|d| {
            view! {
                <tr>
                    <td>{d.account_id}</td>
                    <td>{d.email}</td>
                    <td>{format::bytes(d.bytes)}</td>
                    <td>{d.since}</td>
                </tr>
            }
            .into_any()
        })
        .collect();
    let table = (!rows.is_empty()).then(|| {
        view! { <DataTable id="drift-table" columns=&["Id", "Email", "Drift", "Since"] rows /> }
    });
    view! {
        <section id="reconciliation" class="card settings-section" aria-labelledby="reconciliation-heading">
            <h2 id="reconciliation-heading">"Usage reconciliation"</h2>
            <p class="muted" id="reconciliation-status">{status}</p>
            {table}
        </section>
    }
}

/// Every account's allowlist entries; those overlapping another account's are marked.
#[component]
fn Allowlists(total: i64, entries: Vec<AllowlistRow>) -> impl IntoView {
    let rows: Vec<AnyView> = entries
        .into_iter()
        .map(|entry| view! { <AllowlistEntry entry /> }.into_any())
        .collect();
    view! {
        <section id="allowlists" class="card settings-section" aria-labelledby="allowlists-heading">
            <h2 id="allowlists-heading">{format!("IP allowlists ({})", count(total))}</h2>
            <p class="muted">
                "An address belongs to one account. Entries marked disputed overlap another "
                "account's (they predate that rule): remove the one that is not its owner's."
            </p>
            <DataTable id="allowlists-table" columns=&["Network", "Account", "Label"] actions=true rows />
        </section>
    }
    .into_any()
}

/// One entry with its remove button.
#[component]
fn AllowlistEntry(entry: AllowlistRow) -> impl IntoView {
    let label = format!("Remove {} of {}", entry.cidr, entry.email);
    view! {
        <tr>
            <td>
                <code>{entry.cidr}</code>
                {entry.disputed.then(|| view! { " " <span class="health health-unhealthy">"disputed"</span> })}
            </td>
            <td>{format!("{} (#{})", entry.email, entry.account_id)}</td>
            <td>{entry.note}</td>
            <td class="table-actions">
                <RemoveButton action="/admin/allowlist/remove" id=entry.id label=label />
            </td>
        </tr>
    }
    .into_any()
}
