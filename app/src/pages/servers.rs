//! `/servers`: the exits your traffic can leave through.

use leptos::prelude::*;

use crate::components::empty_state::EmptyState;
use crate::components::page_header::PageHeader;

/// the exits your traffic can leave through.
#[component]
pub fn ServersPage() -> impl IntoView {
    view! {
        <PageHeader title="Servers" subtitle="Exits by pool and country, with their health." />
        <EmptyState heading="No exits to show yet" body="Upstream exits appear here with their health, latency and success rate once an operator adds them." />
    }
}
