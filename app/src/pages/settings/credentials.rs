//! Settings › Proxy credentials: username, password (with regeneration) and the endpoints.

use leptos::prelude::*;

use crate::api::credentials::{ProxyAccess, RegenerateCredentials, my_credentials};

/// The proxy credentials section.
#[component]
pub fn CredentialsSection() -> impl IntoView {
    let regenerate = ServerAction::<RegenerateCredentials>::new();
    // Refetched after every regeneration.
    let credentials = Resource::new(move || regenerate.version().get(), |_| my_credentials());
    view! {
        <section class="card settings-section" aria-labelledby="credentials-heading">
            <h2 id="credentials-heading">"Proxy credentials"</h2>
            <Suspense fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match credentials.await {
                        Ok(access) => view! { <Credentials access /> }.into_any(),
                        Err(e) => view! { <p class="notice notice-error" role="alert">{e.to_string()}</p> }
                            .into_any(),
                    }
                })}
            </Suspense>
            <ActionForm action=regenerate attr:class="regenerate-form">
                <button class="button button-quiet" type="submit" id="regenerate">
                    "Regenerate password"
                </button>
                <span class="muted">
                    " The old password stops working within seconds; running tunnels keep going."
                </span>
            </ActionForm>
        </section>
    }
}

#[component]
fn Credentials(access: ProxyAccess) -> impl IntoView {
    let (revealed, set_revealed) = signal(false);
    let password = access.password.clone();
    let curl = format!(
        "curl -x http://{}:{}@{} https://example.com",
        access.username, access.password, access.http_proxy
    );
    view! {
        <dl class="credentials">
            <dt>"Username"</dt>
            <dd><code id="proxy-username">{access.username.clone()}</code></dd>
            <dt>"Password"</dt>
            <dd>
                <code id="proxy-password">
                    {move || if revealed.get() { password.clone() } else { "•".repeat(24) }}
                </code>
                <button
                    class="button button-quiet button-small"
                    type="button"
                    aria-pressed=move || revealed.get().to_string()
                    on:click=move |_| set_revealed.update(|r| *r = !*r)
                >
                    {move || if revealed.get() { "Hide" } else { "Show" }}
                </button>
            </dd>
            <dt>"HTTP proxy"</dt>
            <dd><code id="proxy-http">{access.http_proxy.clone()}</code></dd>
            <dt>"SOCKS5 proxy"</dt>
            <dd><code id="proxy-socks">{access.socks_proxy.clone()}</code></dd>
        </dl>
        <details class="example">
            <summary>"Example"</summary>
            <pre><code>{curl}</code></pre>
        </details>
    }
}
