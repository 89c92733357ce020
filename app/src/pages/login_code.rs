//! `/login/code`: the second step of signing in with two-factor on, a plain form post.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::page_header::PageHeader;

/// Asks for the authenticator code (or a recovery code) after a correct password.
#[component]
pub fn LoginCodePage() -> impl IntoView {
    let query = use_query_map();
    let error = move || {
        query.with(|q| {
            q.get("error").map(|_| {
                view! {
                    <p class="notice notice-error" role="alert">
                        "That code is not right. Enter the current code from your app, or a recovery code."
                    </p>
                }
            })
        })
    };
    view! {
        <PageHeader title="Two-factor sign-in" subtitle="One more step." />
        <form class="card auth-form" method="post" action="/login/code">
            {error}
            <label for="code">"Code from your authenticator app"</label>
            <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code"
                required autofocus aria-describedby="code-help" />
            <p id="code-help" class="muted">"Lost your phone? Enter one of your recovery codes instead."</p>
            <button class="button" type="submit">"Sign in"</button>
            <p class="muted"><a href="/login">"Start over"</a></p>
        </form>
    }
}
