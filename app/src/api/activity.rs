//! The Activity page's data: the account's events, newest first, by page and by family.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The families the page filters by: (query key, label, event kinds or dotted prefixes).
pub const FILTERS: [(&str, &str, &[&str]); 7] = [
    ("all", "All", &[]),
    ("sign-ins", "Sign-ins", &["sign_in", "account"]),
    (
        "security",
        "Security",
        &["password", "two_factor", "sessions", "allowlist"],
    ),
    ("credentials", "Credentials", &["credentials"]),
    (
        "billing",
        "Payments and plans",
        &["payment", "subscription", "plan"],
    ),
    ("quota", "Quota", &["quota"]),
    ("errors", "Proxy errors", &["proxy"]),
];

/// Events per page.
pub const PAGE_SIZE: u32 = 25;

/// One event as shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRow {
    /// When, in the viewer's zone.
    pub when: String,
    /// The dotted kind (`sign_in.succeeded`).
    pub kind: String,
    /// What happened, in words.
    pub title: String,
    /// More about it (a hint, the plan, the network), may be empty.
    pub detail: String,
    /// The client address, if known.
    pub ip: Option<String>,
}

/// One page of events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityPage {
    /// The filter key applied.
    pub filter: String,
    /// This page (1-based).
    pub page: u32,
    /// Pages in all (at least 1).
    pub pages: u32,
    /// Events matching the filter.
    pub total: i64,
    /// The events, newest first.
    pub rows: Vec<ActivityRow>,
    /// The zone `when` is in.
    pub time_zone: String,
}

/// The signed-in account's events of family `filter` (a [`FILTERS`] key), page `page`.
#[server(endpoint = "activity")]
pub async fn load_activity(filter: String, page: u32) -> Result<ActivityPage, ServerFnError> {
    use crate::api::{access, zone};
    let (db, account) = access::signed_in()?;
    let unavailable = access::internal("your activity is");
    let (key, _, kinds) = FILTERS
        .into_iter()
        .find(|(k, _, _)| *k == filter)
        .unwrap_or(FILTERS[0]);
    let kinds = store::activity::KindFilter(kinds);
    let total = store::activity::count(&db, account, kinds)
        .await
        .map_err(&unavailable)?;
    let size = i64::from(PAGE_SIZE);
    let pages = u32::try_from((total.max(1) + size - 1) / size).unwrap_or(u32::MAX);
    let page = page.clamp(1, pages);
    let events = store::activity::list(
        &db,
        account,
        kinds,
        store::Page::new(
            i64::from(PAGE_SIZE),
            i64::from(page - 1) * i64::from(PAGE_SIZE),
        ),
    )
    .await
    .map_err(&unavailable)?;
    let tz = zone::of(&db, account).await;
    Ok(ActivityPage {
        filter: key.to_owned(),
        page,
        pages,
        total,
        rows: events
            .into_iter()
            .map(|e| {
                let (title, detail) = ssr::describe(&e.kind, &e.detail);
                ActivityRow {
                    when: zone::date_time(tz, e.created_at),
                    kind: e.kind,
                    title,
                    detail,
                    ip: e.ip,
                }
            })
            .collect(),
        time_zone: tz.name().to_owned(),
    })
}

/// Server side: events in words.
#[cfg(feature = "ssr")]
pub mod ssr {
    use serde_json::Value;

    /// A title and a detail line for an event.
    pub fn describe(kind: &str, detail: &Value) -> (String, String) {
        let text = |key: &str| {
            detail
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let title = match kind {
            "sign_in.succeeded" => match text("factor").as_str() {
                "totp" => "Signed in with an authenticator code",
                "recovery_code" => "Signed in with a recovery code",
                _ => "Signed in",
            },
            "sign_in.failed" => "Sign-in failed",
            "sign_in.second_factor_abandoned" => {
                "Sign-in stopped after too many wrong codes: the password is needed again"
            }
            "account.registered" => "Account created",
            "password.changed" => "Password changed",
            "password.change_failed" => "Password change refused (wrong current password)",
            "sessions.revoked" => "Signed out everywhere else",
            "two_factor.enabled" => "Two-factor sign-in turned on",
            "two_factor.disabled" => "Two-factor sign-in turned off",
            "allowlist.added" => "Network added to the IP allowlist",
            "allowlist.removed" => match text("by").as_str() {
                "administrator" => "Network removed from the IP allowlist by support",
                _ => "Network removed from the IP allowlist",
            },
            "allowlist.reauth_failed" => {
                "Allowlist addition refused (wrong password or two-factor code)"
            }
            "credentials.regenerated" => "Proxy password regenerated",
            "api_token.created" => "API token created",
            "api_token.revoked" => "API token revoked",
            "api_token.used" => "API token used",
            "session.ended" => match text("by").as_str() {
                "administrator" => "Sticky session ended by support",
                _ => "Sticky session ended",
            },
            "plan.granted" => "Plan granted by support",
            "subscription.grace" => "Plan period ended unpaid: grace period started",
            "subscription.expired" => "Plan expired",
            "subscription.renewed" => "Plan renewed with your saved card",
            "subscription.renewal_failed" => "Automatic renewal failed",
            "subscription.renewal_retry" => "Trying your saved card again after a failed renewal",
            "subscription.auto_renew_on" => "Automatic renewal turned on",
            "subscription.auto_renew_off" => "Automatic renewal turned off",
            "subscription.payment_failed" => "A subscription payment failed",
            "payment.succeeded" => "Payment received: plan active",
            "payment.mismatch" => "Payment did not match the checkout: not activated",
            "payment.superseded" => "Renewal charged while you switched plans: refunded",
            "payment.refunded" => "Refund processed",
            "quota.warning" => "Quota warning",
            "proxy.error" => "Proxy requests failing",
            k if k.starts_with("payment.") => "Payment",
            k if k.starts_with("subscription.") => "Subscription changed",
            _ => "",
        };
        let title = if title.is_empty() {
            kind.to_owned()
        } else {
            title.to_owned()
        };
        let detail_line = match kind {
            "proxy.error" => {
                let code = text("code");
                format!("{code}: {}", crate::api::hints::for_code(&code))
            }
            "quota.warning" => {
                let percent = detail
                    .get("percent_used")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                format!("{percent} % of this period's bandwidth is used.")
            }
            "allowlist.added" | "allowlist.removed" | "allowlist.reauth_failed" => text("cidr"),
            k if k.starts_with("api_token.") => text("name"),
            k if k.starts_with("payment.") => [text("plan"), text("reference"), text("status")]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" · "),
            _ => String::new(),
        };
        (title, detail_line)
    }

    #[cfg(test)]
    mod tests {
        use serde_json::json;

        use super::describe;

        #[test]
        fn events_read_as_sentences() {
            assert_eq!(
                describe("sign_in.succeeded", &json!({"factor": "totp"})).0,
                "Signed in with an authenticator code"
            );
            let (title, detail) = describe("proxy.error", &json!({"code": "no_exit"}));
            assert_eq!(title, "Proxy requests failing");
            assert!(detail.starts_with("no_exit: No healthy exit"), "{detail}");
            assert_eq!(
                describe("quota.warning", &json!({"percent_used": 81})).1,
                "81 % of this period's bandwidth is used."
            );
            assert_eq!(describe("something.new", &json!({})).0, "something.new");
        }
    }
}
