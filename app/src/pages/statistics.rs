//! `/`: the statistics page: live traffic tiles and charts.

use leptos::prelude::*;

use crate::components::empty_state::EmptyState;
use crate::components::page_header::PageHeader;

/// the statistics page: live traffic tiles and charts.
#[component]
pub fn StatisticsPage() -> impl IntoView {
    view! {
        <PageHeader title="Statistics" subtitle="Live traffic through your proxy credentials." />
        <EmptyState heading="No traffic yet" body="Live connections, bandwidth and request rates appear here as soon as traffic flows through the gateway with your credentials." />
    }
}
