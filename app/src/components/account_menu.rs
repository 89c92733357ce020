//! The top bar's account area: the signed-in email and a sign-out button, or a sign-in link.

use leptos::prelude::*;

use crate::api::session::whoami;

/// Shows who is signed in. Sign-out is a plain form post, so it works without JavaScript.
#[component]
pub fn AccountMenu() -> impl IntoView {
    let me = OnceResource::new(whoami());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(me)) => view! {
                        {me.admin.then(|| view! { <a class="button button-quiet" href="/admin" id="admin-link">"Admin"</a> })}
                        <span class="whoami" title="Signed in">{me.email}</span>
                        <form method="post" action="/logout" class="inline-form">
                            <button class="button button-quiet" type="submit">"Sign out"</button>
                        </form>
                    }
                    .into_any(),
                    _ => view! { <a class="button button-quiet" href="/login">"Sign in"</a> }.into_any(),
                }
            })}
        </Suspense>
    }
}
