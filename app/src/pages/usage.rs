//! `/usage`: bandwidth and requests over time, against the plan's quota.

use leptos::prelude::*;

use crate::components::empty_state::EmptyState;
use crate::components::page_header::PageHeader;

/// bandwidth and requests over time, against the plan's quota.
#[component]
pub fn UsagePage() -> impl IntoView {
    view! {
        <PageHeader title="Usage" subtitle="Bandwidth and requests over time." />
        <EmptyState heading="No usage recorded yet" body="Hourly and daily bandwidth, the quota bar and the CSV export appear here once traffic has been metered." />
    }
}
