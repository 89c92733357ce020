//! `/activity`: the account's events, newest first.

use leptos::prelude::*;

use crate::components::empty_state::EmptyState;
use crate::components::page_header::PageHeader;

/// the account's events, newest first.
#[component]
pub fn ActivityPage() -> impl IntoView {
    view! {
        <PageHeader title="Activity" subtitle="Sign-ins, payments and credential changes." />
        <EmptyState heading="No activity yet" body="Sign-ins, payments, credential changes and quota warnings are listed here, newest first." />
    }
}
