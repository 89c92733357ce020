//! The 404 page, also rendered by the server's fallback with status 404.

use leptos::prelude::*;

use crate::components::empty_state::EmptyState;
use crate::components::page_header::PageHeader;

/// Shown for any path the router does not know.
#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <PageHeader title="Page not found" subtitle="That address does not exist." />
        <EmptyState heading="Nothing here" body="Check the address, or go back to your statistics.">
            <a class="button" href="/">"Go to statistics"</a>
        </EmptyState>
    }
}
