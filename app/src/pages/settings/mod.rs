//! `/settings`: proxy credentials, the gateway IP allowlist, and account security (password,
//! sessions, two-factor sign-in). The outcome of a form post comes back as `?notice=` or
//! `?error=` and is shown at the top.

mod allowlist;
mod connect;
mod credentials;
mod preferences;
mod security;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use self::allowlist::AllowlistSection;
use self::connect::ConnectSection;
use self::credentials::CredentialsSection;
use self::preferences::PreferencesSection;
use self::security::{PasswordSection, SessionsSection, TwoFactorSection};
use crate::api::credentials::my_credentials;
use crate::api::preferences::{my_preferences, proxy_countries};
use crate::api::security::{TwoFactor, security_overview};
use crate::components::page_header::PageHeader;

/// The settings page.
#[component]
pub fn SettingsPage() -> impl IntoView {
    let security = OnceResource::new(security_overview());
    let prefs = OnceResource::new(my_preferences());
    let builder = OnceResource::new(async { (my_credentials().await, proxy_countries().await) });
    view! {
        <PageHeader title="Settings" subtitle="Your profile, proxy credentials and account security." />
        <Outcome />
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
                    ]
                    .into_any(),
                    Err(e) => view! { <p class="notice notice-error" role="alert">{e.to_string()}</p> }
                        .into_any(),
                }
            })}
        </Suspense>
    }
}

/// The message for the last form post's outcome.
#[component]
fn Outcome() -> impl IntoView {
    let query = use_query_map();
    move || {
        query.with(|q| {
            if let Some(key) = q.get("notice") {
                let text = notice_text(&key)?;
                Some(view! { <p class="notice notice-ok toast" role="status" id="settings-outcome">{text}</p> }.into_any())
            } else {
                let text = error_text(&q.get("error")?)?;
                Some(view! { <p class="notice notice-error" role="alert" id="settings-outcome">{text}</p> }.into_any())
            }
        })
    }
}

fn notice_text(key: &str) -> Option<&'static str> {
    Some(match key {
        "password_changed" => "Password changed. Every other session was signed out.",
        "sessions_revoked" => "Every other session is signed out.",
        "scan" => "Scan the QR code with your authenticator app, then enter the code it shows.",
        "two_factor_on" => "Two-factor sign-in is on. Store your recovery codes somewhere safe.",
        "two_factor_off" => "Two-factor sign-in is off.",
        "allowlist_added" => "Added. The gateway accepts connections from it within seconds.",
        "allowlist_removed" => "Removed from the allowlist.",
        "preferences_saved" => "Saved. Times and charts now use your time zone.",
        _ => return None,
    })
}

fn error_text(key: &str) -> Option<&'static str> {
    Some(match key {
        "current_password" => "Your current password is not correct.",
        "short" => "The new password needs at least 10 characters.",
        "weak" => "The new password is too easy to guess. Try a longer phrase of unrelated words.",
        "already_on" => "Two-factor sign-in is on already.",
        "not_started" => "Start the set-up first.",
        "code" => "That code is not right. Codes change every 30 seconds: enter the current one.",
        "cidr" => "Enter an IP address (203.0.113.7) or a network (203.0.113.0/24).",
        "too_wide" => "That network is too wide: at most a /24 for IPv4 or a /48 for IPv6.",
        "duplicate" => "That network is on the allowlist already.",
        "claimed" => {
            "That network overlaps one on another account's allowlist, and an address can \
             belong to one account only. If it is yours, contact support."
        }
        "not_public" => {
            "Only public addresses can be allowed: loopback, private (10/8, 172.16/12, \
             192.168/16, fc00::/7), link-local, shared (100.64/10), multicast and IPv4-mapped \
             addresses never reach the gateway as your source address."
        }
        "full" => "The allowlist is full (100 networks). Remove one first.",
        "note" => "Keep the label under 100 characters.",
        "time_zone" => "Choose a time zone from the list.",
        "quota_percent" => "The quota warning is a whole number from 0 to 100.",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_the_server_sends_has_a_message() {
        for key in [
            "password_changed",
            "sessions_revoked",
            "scan",
            "two_factor_on",
            "two_factor_off",
            "allowlist_added",
            "allowlist_removed",
            "preferences_saved",
        ] {
            assert!(notice_text(key).is_some(), "notice {key}");
        }
        for key in [
            "current_password",
            "short",
            "weak",
            "already_on",
            "not_started",
            "code",
            "cidr",
            "too_wide",
            "duplicate",
            "claimed",
            "not_public",
            "full",
            "note",
            "time_zone",
            "quota_percent",
        ] {
            assert!(error_text(key).is_some(), "error {key}");
        }
        assert!(notice_text("<script>").is_none());
    }
}
