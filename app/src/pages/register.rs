//! `/register`: create an account, a plain form post that works without JavaScript.

use leptos::prelude::*;

use crate::components::outcome::OutcomeNotice;
use crate::components::page_header::PageHeader;
use crate::outcome::Page;

/// The registration page. Outcomes of `POST /register` come back as query parameters.
#[component]
pub fn RegisterPage() -> impl IntoView {
    view! {
        <PageHeader title="Create an account" subtitle="Start sending traffic in minutes." />
        <form class="card auth-form" method="post" action="/register">
            <OutcomeNotice page=Page::Register />
            <label for="email">"Email"</label>
            <input id="email" name="email" type="email" autocomplete="email" maxlength="254" required />
            <label for="password">"Password"</label>
            <input
                id="password"
                name="password"
                type="password"
                autocomplete="new-password"
                minlength="10"
                aria-describedby="password-help"
                required
            />
            <p id="password-help" class="muted">"At least 10 characters; a phrase is easiest to remember."</p>
            <button class="button" type="submit">"Create account"</button>
            <p class="muted">"Already have an account? " <a href="/login">"Sign in"</a></p>
        </form>
    }
}
