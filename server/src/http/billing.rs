//! `POST /billing/auto-renew`: the customer turns automatic renewal of their live plan on or
//! off (a form on the Billing page; same-origin checked like every form post). The setting is
//! kept for the periods that follow.

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use store::{activity, subscriptions};

use super::checkout::{back, failed};
use crate::http::SignedIn;
use crate::http::client_ip::client_ip;
use crate::state::AppState;

/// The form: `enabled` is `on` or `off`.
#[derive(Deserialize)]
pub struct AutoRenewForm {
    enabled: String,
}

/// `on`/`off` (also `1`/`0`, `true`/`false`), or `None` for anything else.
fn parse_switch(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "1" | "true" => Some(true),
        "off" | "0" | "false" => Some(false),
        _ => None,
    }
}

/// `POST /billing/auto-renew`.
pub async fn set(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    viewer: SignedIn,
    Form(form): Form<AutoRenewForm>,
) -> Response {
    let Some(on) = parse_switch(&form.enabled) else {
        return back("error", "auto_renew");
    };
    let account = viewer.account_id();
    let now = store::now_ms();
    let subscription = match subscriptions::set_auto_renew(&state.db, account, on, now).await {
        Ok(Some(subscription)) => subscription,
        Ok(None) => return back("error", "no_plan"),
        Err(error) => return failed(&error),
    };
    let ip = client_ip(peer, &headers, &state.config.trusted_proxies).to_string();
    let kind = if on {
        "subscription.auto_renew_on"
    } else {
        "subscription.auto_renew_off"
    };
    let event = activity::NewActivity {
        detail: serde_json::json!({
            "source": "customer",
            "plan_id": subscription.plan_id.get(),
        }),
        ip: Some(&ip),
        ..activity::NewActivity::new(Some(account), kind)
    };
    if let Err(error) = activity::record(&state.db, &event, now).await {
        tracing::error!(%error, kind, "recording billing activity failed");
    }
    back(
        "notice",
        if on {
            "auto_renew_on"
        } else {
            "auto_renew_off"
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switch_reads_on_and_off_only() {
        for on in ["on", "ON", "1", "true", " on "] {
            assert_eq!(parse_switch(on), Some(true), "{on}");
        }
        for off in ["off", "0", "false", "Off"] {
            assert_eq!(parse_switch(off), Some(false), "{off}");
        }
        for neither in ["", "yes please", "2", "onn"] {
            assert_eq!(parse_switch(neither), None, "{neither}");
        }
    }
}
