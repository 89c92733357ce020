//! `/register`: create an account, a plain form post that works without JavaScript.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::page_header::PageHeader;

/// The registration page. Outcomes of `POST /register` come back as query parameters.
#[component]
pub fn RegisterPage() -> impl IntoView {
    let query = use_query_map();
    let error = move || {
        query.with(|q| {
            q.get("error").map(|e| {
                let text = match e.as_str() {
                    "email" => "Enter a valid email address (at most 254 characters).",
                    "short" => "Use at least 10 characters.",
                    _ => "That password is too easy to guess. Try a longer phrase of unrelated words.",
                };
                view! { <p class="notice notice-error" role="alert">{text}</p> }
            })
        })
    };
    view! {
        <PageHeader title="Create an account" subtitle="Start sending traffic in minutes." />
        <form class="card auth-form" method="post" action="/register">
            {error}
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
