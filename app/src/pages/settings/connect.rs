//! Settings › Connection builder: choose protocol, country, sticky session and its lifetime,
//! get a ready proxy URL and a `curl` line to copy. Without JavaScript it shows the plain URL.
//! "Test my proxy" sends one real request through the gateway with exactly what the builder
//! shows and renders what it saw in place ([`super::probe`]).

use leptos::prelude::*;

use wire::username::{self as grammar, ProxyUsername, Targeting};

use super::probe::ProbeResult;
use crate::api::credentials::ProxyAccess;
use crate::api::probe::{ProbeSpec, TestProxy};

/// The username with targeting parameters, built by the grammar the gateway parses. A session
/// id the grammar refuses is left out (the form flags it), and so is a lifetime without a
/// session or out of range.
pub fn username(user: &str, country: &str, session: &str, ttl: Option<u32>) -> String {
    let session = grammar::check_session(session)
        .is_ok()
        .then(|| session.to_owned());
    let ttl = ttl.filter(|m| grammar::check_ttl(*m).is_ok());
    ProxyUsername {
        user: user.to_owned(),
        targeting: Targeting {
            country: (!country.is_empty()).then(|| country.to_owned()),
            city: None,
            ttl_minutes: session.as_ref().and(ttl),
            session,
        },
    }
    .to_string()
}

/// The connection builder.
#[component]
pub fn ConnectSection(access: ProxyAccess, countries: Vec<String>) -> impl IntoView {
    let socks = RwSignal::new(false);
    let country = RwSignal::new(String::new());
    let session = RwSignal::new(String::new());
    let ttl = RwSignal::new(String::from("10"));
    let reveal = RwSignal::new(false);
    let ProxyAccess {
        username: user,
        password,
        http_proxy,
        socks_proxy,
    } = access;
    let session_ok = move || session.with(|s| s.is_empty() || grammar::check_session(s).is_ok());
    let ttl_value = move || ttl.with(|t| grammar::parse_ttl(t).ok());
    let url = move |shown_password: &str| {
        let name = username(&user, &country.get(), &session.get(), ttl_value());
        if socks.get() {
            format!("socks5h://{name}:{shown_password}@{socks_proxy}")
        } else {
            format!("http://{name}:{shown_password}@{http_proxy}")
        }
    };
    let full = {
        let (url, password) = (url.clone(), password.clone());
        move || url(&password)
    };
    let shown = {
        let full = full.clone();
        move || {
            if reveal.get() {
                full()
            } else {
                url("••••••••")
            }
        }
    };
    let curl = {
        let shown = shown.clone();
        move || format!("curl -x '{}' https://example.com", shown())
    };
    let probe = ServerAction::<TestProxy>::new();
    let test = move |_| {
        let spec = ProbeSpec {
            protocol: if socks.get_untracked() {
                "socks5"
            } else {
                "http"
            }
            .to_owned(),
            country: country.get_untracked(),
            city: String::new(),
            session: session.get_untracked(),
            ttl: ttl.with_untracked(|t| grammar::parse_ttl(t).ok()),
        };
        probe.dispatch(TestProxy { spec });
    };
    let probe_result = move || {
        if probe.pending().get() {
            return Some(
                view! { <p class="muted probe-pending" id="probe-pending">"Testing through the gateway…"</p> }
                    .into_any(),
            );
        }
        probe.value().get().map(|result| match result {
            Ok(report) => view! { <ProbeResult report /> }.into_any(),
            Err(e) => view! { <p class="notice notice-error" id="probe-error" role="alert">{e.to_string()}</p> }
                .into_any(),
        })
    };
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(window) = web_sys::window() {
            let _ = window.navigator().clipboard().write_text(&full());
        }
    };
    view! {
        <section id="connect" class="card settings-section" aria-labelledby="connect-heading">
            <h2 id="connect-heading">"Connection builder"</h2>
            <div class="builder">
                <label for="builder-protocol">"Protocol"</label>
                <select id="builder-protocol" on:change=move |ev| socks.set(event_target_value(&ev) == "socks5")>
                    <option value="http">"HTTP (and HTTPS via CONNECT)"</option>
                    <option value="socks5">"SOCKS5 (names resolved by the exit)"</option>
                </select>
                <label for="builder-country">"Country"</label>
                <select id="builder-country" on:change=move |ev| country.set(event_target_value(&ev))>
                    <option value="">"Any"</option>
                    {countries
                        .into_iter()
                        .map(|c| view! { <option value=c.clone()>{c.to_uppercase()}</option> })
                        .collect_view()}
                </select>
                <label for="builder-session">"Sticky session"</label>
                <input
                    id="builder-session"
                    type="text"
                    maxlength=grammar::MAX_SESSION_LEN.to_string()
                    placeholder="none: a new exit per connection"
                    spellcheck="false"
                    aria-invalid=move || (!session_ok()).to_string()
                    aria-describedby="builder-session-help"
                    prop:value=move || session.get()
                    on:input=move |ev| session.set(event_target_value(&ev).to_ascii_lowercase())
                />
                <span class="muted small" id="builder-session-help">
                    {move || if session_ok() { "Same id, same exit until the lifetime ends. Letters a–z and digits, up to 32." } else { "Use only a–z and 0–9, up to 32 characters." }}
                </span>
                <label for="builder-ttl">"Session lifetime (minutes)"</label>
                <input
                    id="builder-ttl"
                    type="number"
                    min="1"
                    max=grammar::MAX_TTL_MINUTES.to_string()
                    prop:value=move || ttl.get()
                    disabled=move || session.with(String::is_empty)
                    on:input=move |ev| ttl.set(event_target_value(&ev))
                />
                <label class="checkbox">
                    <input id="builder-reveal" type="checkbox" on:change=move |ev| reveal.set(event_target_checked(&ev)) />
                    " Show the password"
                </label>
            </div>
            <p><code id="builder-url" class="builder-url">{shown.clone()}</code></p>
            <pre class="example"><code id="builder-curl">{curl}</code></pre>
            <button class="button button-quiet button-small" type="button" id="builder-copy" on:click=copy>"Copy URL"</button>
            " "
            <button
                class="button button-small"
                type="button"
                id="builder-test"
                on:click=test
                disabled=move || probe.pending().get()
            >
                "Test my proxy"
            </button>
            <div class="probe" aria-live="polite">{probe_result}</div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_grammar() {
        assert_eq!(username("u1", "", "", Some(10)), "u1");
        assert_eq!(username("u1", "ng", "", Some(10)), "u1-country-ng");
        assert_eq!(
            username("u1", "ng", "abc", Some(10)),
            "u1-country-ng-session-abc-ttl-10"
        );
        assert_eq!(username("u1", "", "abc", None), "u1-session-abc");
        assert_eq!(
            username("u1", "ng", "abc", Some(1441)),
            "u1-country-ng-session-abc"
        );
    }

    #[test]
    fn parameters_the_grammar_refuses_are_left_out() {
        for bad in ["ABC", "a-b", &"a".repeat(33)] {
            assert_eq!(username("u1", "", bad, Some(10)), "u1", "{bad}");
        }
    }
}
