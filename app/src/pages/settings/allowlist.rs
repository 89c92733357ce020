//! Settings › IP allowlist: source addresses that may use the proxy without the password.

use leptos::prelude::*;

use crate::api::security::AllowedNetwork;
use crate::components::remove_button::RemoveButton;
use crate::components::table::DataTable;

/// The allowlist section: the entries with a remove button each, and the add form, which asks
/// for the password again (or a two-factor code when `two_factor_on`): an entry opens the
/// account to a network, so a borrowed session alone must not be enough.
#[component]
pub fn AllowlistSection(entries: Vec<AllowedNetwork>, two_factor_on: bool) -> impl IntoView {
    // Type-erased pieces keep the view type shallow enough for the wasm build.
    let listing = if entries.is_empty() {
        view! { <p class="muted" id="allowlist-empty">"No addresses yet."</p> }.into_any()
    } else {
        let rows: Vec<AnyView> = entries
            .into_iter()
            .map(|entry| view! { <Entry entry /> }.into_any())
            .collect();
        view! { <DataTable id="allowlist-table" columns=&["Network", "Label"] actions=true rows /> }
            .into_any()
    };
    let reauth = if two_factor_on {
        view! {
            <label for="allow-code">"Two-factor code"</label>
            <input id="allow-code" name="code" type="text" required inputmode="numeric"
                autocomplete="one-time-code" spellcheck="false" placeholder="123456" />
        }
        .into_any()
    } else {
        view! {
            <label for="allow-password">"Confirm with your password"</label>
            <input id="allow-password" name="current_password" type="password" required
                autocomplete="current-password" />
        }
        .into_any()
    };
    view! {
        <section id="allowlist" class="card settings-section" aria-labelledby="allowlist-heading">
            <h2 id="allowlist-heading">"IP allowlist"</h2>
            <p class="muted">
                "Connections from these addresses may use the proxy without the password, e.g. "
                "from a server whose software cannot send proxy credentials. Public addresses only, "
                "at most a /24 (IPv4) or a /48 (IPv6), and not one on another account's list."
            </p>
            {listing}
            <form method="post" action="/settings/allowlist" class="row-form">
                <label for="allow-cidr">"Address or network"</label>
                <input id="allow-cidr" name="cidr" type="text" required placeholder="203.0.113.7"
                    autocomplete="off" spellcheck="false" />
                <label for="allow-note">"Label"</label>
                <input id="allow-note" name="note" type="text" maxlength="100" placeholder="office" />
                {reauth}
                <button class="button" type="submit">"Add"</button>
            </form>
        </section>
    }
    .into_any()
}

/// One allowlisted network with its remove button.
#[component]
fn Entry(entry: AllowedNetwork) -> impl IntoView {
    view! {
        <tr>
            <td><code>{entry.cidr.clone()}</code></td>
            <td>{entry.note}</td>
            <td class="table-actions">
                <RemoveButton
                    action="/settings/allowlist/remove"
                    id=entry.id
                    label=format!("Remove {}", entry.cidr)
                />
            </td>
        </tr>
    }
    .into_any()
}
