//! The title block at the top of every page.

use leptos::prelude::*;
use leptos_meta::Title;

/// A page's `<h1>`, its document title, and a one-line description.
#[component]
pub fn PageHeader(title: &'static str, subtitle: &'static str) -> impl IntoView {
    view! {
        <Title text=title />
        <header class="page-header">
            <h1>{title}</h1>
            <p class="muted">{subtitle}</p>
        </header>
    }
}
