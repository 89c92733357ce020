//! The 24 hours / 7 days / 30 days switch: plain links (`?range=`), so it works without
//! JavaScript and the choice survives a reload.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::traffic::Range;

/// Links to `path?range=…` for each range, the current one marked.
#[component]
pub fn RangePicker(path: &'static str, current: Signal<Range>) -> impl IntoView {
    view! {
        <nav class="range-picker" aria-label="Time range">
            {Range::ALL
                .into_iter()
                .map(|r| {
                    view! {
                        <A
                            href=format!("{path}?range={}", r.key())
                            attr:class="range-link"
                            attr:aria-current=move || (current.get() == r).then_some("true")
                            attr:id=format!("range-{}", r.key())
                        >
                            {r.label()}
                        </A>
                    }
                })
                .collect_view()}
        </nav>
    }
}
