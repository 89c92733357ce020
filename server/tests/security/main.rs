//! Account security through the real service on SQLite and PostgreSQL: two-factor sign-in with
//! TOTP and recovery codes, password change, signing out the other sessions, the gateway IP
//! allowlist, the administrator's pages, per-endpoint rate limits and the CSP nonce, and the
//! web side's bounds: metrics labels, password work, the listener, `/ws/live`, throttling.

// A failed unwrap here is a failed test with its location, which is all it needs to say.
#![allow(clippy::unwrap_used)]

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod admin;
mod allowlist;
mod csp;
mod limits;
mod live_socket;
mod passwords;
mod sessions;
mod throttling;
mod two_factor;
mod web_listener;
mod web_metrics;

use common::Browser;

fn unix_now() -> u64 {
    u64::try_from(store::now_ms() / 1000).expect("clock after 1970")
}

/// The recovery codes (`xxxxx-xxxxx`) inside the page's recovery-code list.
fn recovery_codes_in(html: &str) -> Vec<String> {
    let Some(start) = html.find("id=\"recovery-codes\"") else {
        return Vec::new();
    };
    let list = &html[start
        ..html[start..]
            .find("</ol>")
            .map_or(html.len(), |e| start + e)];
    let bytes = list.as_bytes();
    let is_code_char = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut codes = Vec::new();
    for i in 0..bytes.len().saturating_sub(11) {
        let window = &bytes[i..i + 11];
        if window[5] == b'-'
            && window[..5].iter().all(|b| is_code_char(*b))
            && window[6..].iter().all(|b| is_code_char(*b))
            && (i == 0 || !is_code_char(bytes[i - 1]))
        {
            codes.push(String::from_utf8_lossy(window).into_owned());
        }
    }
    codes
}

async fn settings_html(browser: &Browser) -> String {
    let page = browser.get("/settings").await;
    assert_eq!(page.status(), 200, "settings page");
    page.text().await.expect("html")
}
