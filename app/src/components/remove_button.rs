//! A one-button form that removes a row by id (`POST action` with `id`): the allowlists in
//! Settings and on `/admin` use it, so both send the same field and look the same.

use leptos::prelude::*;

/// The form; `label` names what goes, for screen readers.
#[component]
pub fn RemoveButton(action: &'static str, id: i64, label: String) -> impl IntoView {
    view! {
        <form method="post" action=action class="inline-form">
            <input type="hidden" name="id" value=id.to_string() />
            <button class="button button-quiet button-small" type="submit" aria-label=label>
                "Remove"
            </button>
        </form>
    }
}
