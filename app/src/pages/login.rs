//! `/login`: sign-in, a plain form post that works without JavaScript.

use leptos::prelude::*;

use crate::components::outcome::OutcomeNotice;
use crate::components::page_header::PageHeader;
use crate::outcome::Page;

/// The sign-in page. Outcomes of `POST /login` come back as query parameters.
#[component]
pub fn LoginPage() -> impl IntoView {
    view! {
        <PageHeader title="Sign in" subtitle="Access your AtlanticProxy dashboard." />
        <form class="card auth-form" method="post" action="/login">
            <OutcomeNotice page=Page::Login />
            <label for="email">"Email"</label>
            <input
                id="email"
                name="email"
                type="email"
                autocomplete="username"
                maxlength="254"
                required
            />
            <label for="password">"Password"</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required />
            <button class="button" type="submit">"Sign in"</button>
            <p class="muted">"No account yet? " <a href="/register">"Create one"</a></p>
        </form>
    }
}
