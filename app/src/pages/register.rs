//! `/register`: registration.

use leptos::prelude::*;

use crate::components::empty_state::EmptyState;
use crate::components::page_header::PageHeader;

/// registration.
#[component]
pub fn RegisterPage() -> impl IntoView {
    view! {
        <PageHeader title="Create an account" subtitle="Start sending traffic in minutes." />
        <EmptyState heading="Registration is not open yet" body="Self-service registration arrives with the accounts release; until then the operator creates accounts." />
    }
}
