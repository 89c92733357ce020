//! The 24 hours / 7 days / 30 days switch: plain links (`?range=`), so it works without
//! JavaScript and the choice survives a reload.

use leptos::prelude::*;

use crate::api::traffic::Range;

/// Links to `path?range=…` for each range, the current one marked.
#[component]
pub fn RangePicker(path: &'static str, current: Signal<Range>) -> impl IntoView {
    view! {
        <nav class="range-picker" aria-label="Time range">
            {Range::ALL
                .into_iter()
                .map(|r| {
                    // A plain link: the router still navigates client-side, and `aria-current`
                    // follows the range shown (also the default one, with no `?range=`).
                    view! {
                        <a
                            href=format!("{path}?range={}", r.key())
                            class="range-link"
                            aria-current=move || (current.get() == r).then_some("true")
                            id=format!("range-{}", r.key())
                        >
                            {r.label()}
                        </a>
                    }
                })
                .collect_view()}
        </nav>
    }
}
