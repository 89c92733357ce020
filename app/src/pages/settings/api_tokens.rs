//! Settings › API tokens: personal access tokens for the public REST API (`/api/v1`). The
//! list shows name, scope, expiry and last use; a new token's value is shown once, right
//! after it is made; each token has a Revoke button, which takes effect at once.

use leptos::prelude::*;

use crate::api::tokens::{CreateToken, RevokeToken, TokenRow, my_tokens};
use crate::components::table::DataTable;

/// The API tokens section.
#[component]
pub fn ApiTokensSection() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    // Refetched after every change.
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| my_tokens(),
    );
    let made = move || {
        create.value().get().map(|result| match result {
            Ok(made) => view! {
                <div class="notice notice-ok" role="status" id="token-value-notice">
                    <p>
                        "Token “" {made.token.name.clone()} "” made. Copy its value now: "
                        "it is not shown again."
                    </p>
                    <pre><code id="token-value">{made.value.clone()}</code></pre>
                </div>
            }
            .into_any(),
            Err(e) => {
                view! { <p class="notice notice-error" role="alert">{e.to_string()}</p> }.into_any()
            }
        })
    };
    view! {
        <section id="api-tokens" class="card settings-section" aria-labelledby="api-tokens-heading">
            <h2 id="api-tokens-heading">"API tokens"</h2>
            <p class="muted">
                "Tokens for the REST API at /api/v1 (send one as Authorization: Bearer …). "
                "A read token can only read; read and write can also regenerate the proxy "
                "password and change the IP allowlist."
                " " <a href="/api/v1/docs" rel="external">"API reference"</a>
            </p>
            {made}
            <Suspense fallback=|| view! { <div class="skeleton skeleton-short" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match tokens.await {
                        Ok(list) => view! { <TokenList list revoke /> }.into_any(),
                        Err(e) => view! { <p class="notice notice-error" role="alert">{e.to_string()}</p> }
                            .into_any(),
                    }
                })}
            </Suspense>
            <ActionForm action=create attr:class="row-form">
                <label for="token-name">"Name"</label>
                <input id="token-name" name="name" type="text" required maxlength="100"
                    placeholder="deploy script" autocomplete="off" />
                <label for="token-scope">"Scope"</label>
                <select id="token-scope" name="scope">
                    <option value="read" selected>"Read"</option>
                    <option value="read_write">"Read and write"</option>
                </select>
                <label for="token-expiry">"Expires"</label>
                <select id="token-expiry" name="expires_in_days">
                    <option value="30" selected>"in 30 days"</option>
                    <option value="90">"in 90 days"</option>
                    <option value="365">"in a year"</option>
                    <option value="">"never"</option>
                </select>
                <button class="button" type="submit" id="token-create">"Make token"</button>
            </ActionForm>
        </section>
    }
    .into_any()
}

/// The tokens, or a line saying there are none.
#[component]
fn TokenList(list: Vec<TokenRow>, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="muted" id="api-tokens-empty">"No tokens yet."</p> }.into_any();
    }
    let rows: Vec<AnyView> = list
        .into_iter()
        .map(|token| view! { <Token token revoke /> }.into_any())
        .collect();
    view! {
        <DataTable
            id="api-tokens-table"
            columns=&["Name", "Scope", "Token", "Expires", "Last used"]
            actions=true
            rows
        />
    }
    .into_any()
}

/// One token with its Revoke button.
#[component]
fn Token(token: TokenRow, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    let scope = if token.scope == "read_write" {
        "read and write"
    } else {
        "read"
    };
    let expires = match (token.expires.clone(), token.expired) {
        (Some(at), true) => format!("expired {at}"),
        (Some(at), false) => at,
        (None, _) => "never".to_owned(),
    };
    let label = format!("Revoke {}", token.name);
    view! {
        <tr>
            <td>{token.name.clone()}</td>
            <td>{scope}</td>
            <td><code>"atl_…"{token.last4.clone()}</code></td>
            <td>{expires}</td>
            <td>{token.last_used.clone().unwrap_or_else(|| "never".to_owned())}</td>
            <td class="table-actions">
                <ActionForm action=revoke>
                    <input type="hidden" name="id" value=token.id.to_string() />
                    <button class="button button-quiet button-small" type="submit" aria-label=label>
                        "Revoke"
                    </button>
                </ActionForm>
            </td>
        </tr>
    }
    .into_any()
}
