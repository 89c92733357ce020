//! `/login`: sign-in.

use leptos::prelude::*;

use crate::components::empty_state::EmptyState;
use crate::components::page_header::PageHeader;

/// sign-in.
#[component]
pub fn LoginPage() -> impl IntoView {
    view! {
        <PageHeader title="Sign in" subtitle="Access your AtlanticProxy dashboard." />
        <EmptyState heading="Sign-in is not open yet" body="Accounts are created by the operator with atlantic user add for now; dashboard sign-in arrives with the accounts release." />
    }
}
