//! What a section shows when its data failed to load: the reason and a way to try again.

use leptos::prelude::*;

/// An error notice with a "Try again" button that runs `retry`.
#[component]
pub fn LoadError(error: String, retry: Callback<()>) -> impl IntoView {
    view! {
        <div class="notice notice-error load-error" role="alert">
            <p>{error}</p>
            <button class="button button-quiet button-small" type="button" on:click=move |_| retry.run(())>
                "Try again"
            </button>
        </div>
    }
}

/// The placeholder shown while a section loads.
#[component]
pub fn Skeleton(#[prop(optional)] short: bool) -> impl IntoView {
    view! { <div class="skeleton" class:skeleton-short=short aria-busy="true" aria-label="Loading"></div> }
}
