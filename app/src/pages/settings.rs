//! `/settings`: profile, password, two-factor, proxy credentials and allowlist.

use leptos::prelude::*;

use crate::components::empty_state::EmptyState;
use crate::components::page_header::PageHeader;

/// profile, password, two-factor, proxy credentials and allowlist.
#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <PageHeader title="Settings" subtitle="Your profile, security and proxy credentials." />
        <EmptyState heading="Sign in to manage your settings" body="Your profile, password, two-factor authentication, proxy credentials and IP allowlist are managed here once you are signed in." />
    }
}
