//! Billing's web side, over the domain in `billing/`: buying a plan (`POST /billing/checkout`,
//! then `GET /billing/callback` where Paystack sends the customer back), the customer's switch
//! for automatic renewal (`POST /billing/auto-renew`), and Paystack's webhook
//! (`POST /webhooks/paystack`). The forms answer with a 303 back to `/billing` carrying an
//! [`Outcome`].

use app::outcome::Outcome;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use store::payments::PaymentStatus;
use store::subscriptions;

use super::SignedIn;
use super::client_ip::ClientIp;
use super::web_error::{WebError, back};
use crate::activity::Client;
use crate::billing::checkout::{self, CheckoutError};
use crate::billing::paystack::PaystackError;
use crate::billing::settle::{self, SettleError, Settled};
use crate::billing::webhook::{self, Delivery};
use crate::state::AppState;

/// The signed-in pages' posts and Paystack's return: `POST /billing/checkout`,
/// `GET /billing/callback`, `POST /billing/auto-renew`. The callback asks Paystack for the
/// transaction, so it is throttled as a costly read; the posts are throttled as writes by the
/// router's limit.
pub(super) fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/billing/checkout", post(start_checkout))
        .route("/billing/auto-renew", post(set_auto_renew))
        .route(
            checkout::CALLBACK_PATH,
            get(callback).route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                super::rate_limit::costly,
            )),
        )
}

/// `POST /webhooks/paystack`, which Paystack calls: no session, no same-origin check.
pub(super) fn webhook_router() -> Router<AppState> {
    Router::new().route("/webhooks/paystack", post(receive_webhook))
}

/// 503 with a generic message; the detail goes to the log.
fn failed(error: &store::StoreError) -> WebError {
    tracing::error!(%error, "billing failed");
    WebError::Unavailable("billing is unavailable, try again\n")
}

/// What the page says when Paystack would not (or could not) answer.
fn paystack_failed(error: &PaystackError) -> WebError {
    WebError::back(if error.is_refusal() {
        Outcome::CheckoutRefused
    } else {
        Outcome::PaystackUnavailable
    })
}

#[derive(Deserialize)]
struct CheckoutForm {
    plan: i64,
}

/// `POST /billing/checkout`: off to Paystack's checkout page.
async fn start_checkout(
    State(state): State<AppState>,
    viewer: SignedIn,
    Form(CheckoutForm { plan }): Form<CheckoutForm>,
) -> Result<Redirect, WebError> {
    // Relative to the site's URL, which ends in `/`.
    let location = Outcome::CheckoutCancelled.location();
    let cancel = format!("{}{}", state.site_url, location.trim_start_matches('/'));
    match checkout::start(&state, viewer.account_id(), store::PlanId(plan), &cancel).await {
        Ok(checkout_page) => Ok(Redirect::to(&checkout_page)),
        Err(CheckoutError::PlanNotForSale) => Err(WebError::back(Outcome::PlanNotForSale)),
        Err(CheckoutError::NoAccount) => Err(WebError::SignIn),
        Err(CheckoutError::Renewing) => Err(WebError::back(Outcome::Renewing)),
        Err(CheckoutError::Paystack(error)) => Err(paystack_failed(&error)),
        Err(CheckoutError::Store(error)) => Err(failed(&error)),
    }
}

#[derive(Deserialize)]
struct Callback {
    reference: Option<String>,
    trxref: Option<String>,
}

/// `GET /billing/callback?reference=…&trxref=…`.
async fn callback(
    State(state): State<AppState>,
    Query(query): Query<Callback>,
) -> Result<Redirect, WebError> {
    let Some(reference) = query.reference.or(query.trxref) else {
        return Err(WebError::back(Outcome::UnknownReference));
    };
    let result = settle::settle_reference(&state.db, &state.paystack, &reference).await;
    if matches!(result, Ok(Settled::Paid)) {
        state.gateways.refresh_now();
    }
    let outcome = match result {
        Ok(Settled::Paid | Settled::Earlier(PaymentStatus::Success)) => Outcome::Paid,
        Ok(Settled::Declined | Settled::Earlier(PaymentStatus::Failed))
        | Ok(Settled::Earlier(PaymentStatus::Abandoned)) => Outcome::Declined,
        Ok(
            Settled::Superseded
            | Settled::Earlier(PaymentStatus::Superseded | PaymentStatus::Refunded),
        ) => Outcome::Refunded,
        Ok(Settled::Mismatch(_) | Settled::Earlier(_)) => Outcome::Mismatch,
        Ok(Settled::StillPending) => Outcome::PaymentProcessing,
        Err(SettleError::UnknownReference | SettleError::Paystack(PaystackError::NotFound(_))) => {
            Outcome::UnknownReference
        }
        // The customer may well have paid: the webhook or housekeeping settles it later.
        Err(SettleError::Paystack(error)) => {
            tracing::error!(reference, %error, "verifying a payment failed");
            Outcome::PaymentUnconfirmed
        }
        Err(SettleError::Store(error)) => return Err(failed(&error)),
    };
    Ok(back(outcome))
}

/// The auto-renew form: `enabled` is `on` or `off`.
#[derive(Deserialize)]
struct AutoRenewForm {
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

/// `POST /billing/auto-renew`: the customer turns automatic renewal of their live plan on or
/// off (a form on the Billing page; same-origin checked like every form post). The setting is
/// kept for the periods that follow.
async fn set_auto_renew(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    viewer: SignedIn,
    Form(AutoRenewForm { enabled }): Form<AutoRenewForm>,
) -> Result<Redirect, WebError> {
    let on = parse_switch(&enabled).ok_or(WebError::back(Outcome::AutoRenewInvalid))?;
    let account = viewer.account_id();
    let now = store::now_ms();
    let subscription = match subscriptions::set_auto_renew(&state.db, account, on, now).await {
        Ok(Some(subscription)) => subscription,
        Ok(None) => return Err(WebError::back(Outcome::NoPlan)),
        Err(error) => return Err(failed(&error)),
    };
    let (kind, outcome) = if on {
        ("subscription.auto_renew_on", Outcome::AutoRenewOn)
    } else {
        ("subscription.auto_renew_off", Outcome::AutoRenewOff)
    };
    let detail = serde_json::json!({
        "source": "customer",
        "plan_id": subscription.plan_id.get(),
    });
    Client::at(ip)
        .record(&state.db, Some(account), kind, detail)
        .await;
    Ok(back(outcome))
}

/// `POST /webhooks/paystack`: the verdict of [`webhook::deliver`] as Paystack reads it (any
/// 2xx is taken, anything else is delivered again later).
async fn receive_webhook(
    State(state): State<AppState>,
    ClientIp(source): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let signature = headers
        .get("x-paystack-signature")
        .and_then(|v| v.to_str().ok());
    let answer = match webhook::deliver(&state, source, signature, &body).await {
        Delivery::Accepted => (StatusCode::OK, "ok\n"),
        Delivery::Duplicate => (StatusCode::OK, "duplicate\n"),
        Delivery::BadSource => (StatusCode::FORBIDDEN, "source not allowed\n"),
        Delivery::BadSignature => (StatusCode::UNAUTHORIZED, "bad signature\n"),
        Delivery::NotJson => (StatusCode::BAD_REQUEST, "not JSON\n"),
        // Not stored: Paystack retries the delivery.
        Delivery::NotStored => (StatusCode::SERVICE_UNAVAILABLE, "try again\n"),
    };
    answer.into_response()
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
