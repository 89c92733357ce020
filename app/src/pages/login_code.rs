//! `/login/code`: the second step of signing in with two-factor on, a plain form post.

use leptos::prelude::*;

use crate::components::outcome::OutcomeNotice;
use crate::components::page_header::PageHeader;
use crate::outcome::Page;

/// Asks for the authenticator code (or a recovery code) after a correct password.
#[component]
pub fn LoginCodePage() -> impl IntoView {
    view! {
        <PageHeader title="Two-factor sign-in" subtitle="One more step." />
        <form class="card auth-form" method="post" action="/login/code">
            <OutcomeNotice page=Page::LoginCode />
            <label for="code">"Code from your authenticator app"</label>
            <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code"
                required autofocus aria-describedby="code-help" />
            <p id="code-help" class="muted">"Lost your phone? Enter one of your recovery codes instead."</p>
            <button class="button" type="submit">"Sign in"</button>
            <p class="muted"><a href="/login">"Start over"</a></p>
        </form>
    }
}
