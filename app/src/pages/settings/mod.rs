//! `/settings`: proxy credentials, the gateway IP allowlist, account security (password,
//! sessions, two-factor sign-in) and API tokens. The outcome of a form post comes back as `?notice=` or
//! `?error=` and is shown at the top.

mod allowlist;
mod api_tokens;
mod connect;
mod credentials;
mod preferences;
mod probe;
mod security;

use leptos::prelude::*;

use self::allowlist::AllowlistSection;
use self::api_tokens::ApiTokensSection;
use self::connect::ConnectSection;
use self::credentials::CredentialsSection;
use self::preferences::PreferencesSection;
use self::security::{PasswordSection, SessionsSection, TwoFactorSection};
use crate::api::credentials::my_credentials;
use crate::api::preferences::{my_preferences, proxy_countries};
use crate::api::security::{TwoFactor, security_overview};
use crate::components::outcome::OutcomeNotice;
use crate::components::page_header::PageHeader;
use crate::outcome::Page;

/// The settings page.
#[component]
pub fn SettingsPage() -> impl IntoView {
    let security = OnceResource::new(security_overview());
    let prefs = OnceResource::new(my_preferences());
    let builder = OnceResource::new(async { (my_credentials().await, proxy_countries().await) });
    view! {
        <PageHeader title="Settings" subtitle="Your profile, proxy credentials and account security." />
        <OutcomeNotice page=Page::Settings />
        <Suspense fallback=|| view! { <div class="skeleton skeleton-short" aria-busy="true"></div> }>
            {move || Suspend::new(async move {
                match prefs.await {
                    Ok(prefs) => view! { <PreferencesSection prefs /> }.into_any(),
                    Err(e) => view! { <p class="notice notice-error" role="alert">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
        <CredentialsSection />
        <Suspense fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
            {move || Suspend::new(async move {
                match builder.await {
                    (Ok(access), Ok(countries)) => view! { <ConnectSection access countries /> }.into_any(),
                    (Err(e), _) | (_, Err(e)) => view! { <p class="notice notice-error" role="alert">{e.to_string()}</p> }
                        .into_any(),
                }
            })}
        </Suspense>
        <Suspense fallback=|| view! { <div class="skeleton" aria-busy="true"></div> }>
            {move || Suspend::new(async move {
                match security.await {
                    // Each section type-erased: one nested view type would be too deep to compile.
                    Ok(security) => vec![
                        {
                            let two_factor_on = matches!(security.two_factor, TwoFactor::On { .. });
                            view! { <AllowlistSection entries=security.allowlist two_factor_on /> }.into_any()
                        },
                        view! {
                            <TwoFactorSection state=security.two_factor fresh_codes=security.fresh_recovery_codes />
                        }
                        .into_any(),
                        view! { <PasswordSection /> }.into_any(),
                        view! { <SessionsSection /> }.into_any(),
                        view! { <ApiTokensSection /> }.into_any(),
                    ]
                    .into_any(),
                    Err(e) => view! { <p class="notice notice-error" role="alert">{e.to_string()}</p> }
                        .into_any(),
                }
            })}
        </Suspense>
    }
}
