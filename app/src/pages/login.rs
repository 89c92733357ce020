//! `/login`: sign-in, a plain form post that works without JavaScript.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::page_header::PageHeader;

/// The sign-in page. Outcomes of `POST /login` come back as query parameters.
#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let notice = move || {
        query.with(|q| {
            if let Some(error) = q.get("error") {
                let text = match error.as_str() {
                    "expired" => "That sign-in took too long. Start again.",
                    "email" => "That email address is too long (at most 254 characters).",
                    "attempts" => "Too many wrong codes. Start again with your password.",
                    _ => "Email or password is incorrect.",
                };
                Some(view! { <p class="notice notice-error" role="alert">{text}</p> }.into_any())
            } else if q.get("registered").is_some() {
                Some(
                    view! {
                        <p class="notice notice-ok" role="status">
                            "Your account is ready if this email was new. Sign in to continue."
                        </p>
                    }
                    .into_any(),
                )
            } else if q.get("signed_out").is_some() {
                Some(view! { <p class="notice" role="status">"You are signed out."</p> }.into_any())
            } else {
                None
            }
        })
    };
    view! {
        <PageHeader title="Sign in" subtitle="Access your AtlanticProxy dashboard." />
        <form class="card auth-form" method="post" action="/login">
            {notice}
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
