//! An honest "nothing here yet" panel that says why and what to do next.

use leptos::prelude::*;

/// A centred panel with a heading, an explanation and optional actions.
#[component]
pub fn EmptyState(
    heading: &'static str,
    body: &'static str,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <section class="empty-state" role="status">
            <h2>{heading}</h2>
            <p>{body}</p>
            {children.map(|c| view! { <div class="empty-state-actions">{c()}</div> })}
        </section>
    }
}
