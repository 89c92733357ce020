//! A plain data table: column headings, then the rows the page built.

use leptos::prelude::*;

/// `<table class="table">` with one heading per entry of `columns` and, with `actions`, a last
/// column for row buttons whose heading only screen readers see.
#[component]
pub fn DataTable(
    id: &'static str,
    columns: &'static [&'static str],
    #[prop(optional)] actions: bool,
    rows: Vec<AnyView>,
) -> impl IntoView {
    let headings = columns
        .iter()
        .map(|column| view! { <th scope="col">{*column}</th> })
        .collect_view();
    let actions = actions.then(|| {
        view! { <th scope="col"><span class="visually-hidden">"Actions"</span></th> }
    });
    view! {
        <table class="table" id=id>
            <thead>
                <tr>{headings}{actions}</tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
