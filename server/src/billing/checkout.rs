//! Buying a plan: `POST /billing/checkout` records a pending payment with a reference of our
//! own and sends the customer to Paystack; `GET /billing/callback` is where Paystack sends
//! them back, and settles the reference (see [`super::fulfil`]).

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use rand::Rng as _;
use serde::Deserialize;
use store::payments::renewal_attempts;
use store::payments::{self, NewPayment, PaymentOutcome, PaymentStatus};
use store::{accounts, plans};

use super::fulfil::{self, SettleError, Settled};
use super::paystack::{InitializeRequest, PaystackError};
use crate::http::SignedIn;
use crate::state::AppState;

/// Back to the Billing page with `?outcome=key`.
pub(super) fn back(outcome: &str, key: &str) -> Response {
    Redirect::to(&format!("/billing?{outcome}={key}")).into_response()
}

#[derive(Deserialize)]
pub struct CheckoutForm {
    plan: i64,
}

/// A fresh reference: `atl_<account>_<96 random bits>`.
pub(super) fn new_reference(account: i64) -> String {
    let bits: u128 = rand::rng().random::<u128>() >> 32;
    format!("atl_{account}_{bits:024x}")
}

/// `POST /billing/checkout`.
pub async fn start(
    State(state): State<AppState>,
    viewer: SignedIn,
    Form(form): Form<CheckoutForm>,
) -> Response {
    let db = &state.db;
    let plan = match plans::by_id(db, store::PlanId(form.plan)).await {
        Ok(Some(plan)) if plan.for_sale && plan.price_minor > 0 => plan,
        Ok(_) => return back("error", "plan"),
        Err(error) => return failed(&error),
    };
    let account = match accounts::by_id(db, viewer.account_id()).await {
        Ok(Some(account)) => account,
        Ok(None) => return Redirect::to("/login").into_response(),
        Err(error) => return failed(&error),
    };
    // A renewal being charged and a switch of plans would race for the same period: the
    // switch waits (store::payments::fulfil refunds whichever renewal still slips through).
    match renewal_attempts::in_flight(db, account.id).await {
        Ok(false) => {}
        Ok(true) => return back("error", "renewing"),
        Err(error) => return failed(&error),
    }
    let reference = new_reference(account.id.get());
    let pending = NewPayment {
        account_id: account.id,
        plan_id: plan.id,
        reference: &reference,
        amount_minor: plan.price_minor,
        currency: &plan.currency,
    };
    if let Err(error) = payments::create_pending(db, &pending, store::now_ms()).await {
        return failed(&error);
    }
    let mut callback = state.site_url.clone();
    callback.set_path("/billing/callback");
    let request = InitializeRequest {
        email: account.email.clone(),
        amount: plan.price_minor,
        currency: plan.currency.clone(),
        reference: reference.clone(),
        callback_url: callback.to_string(),
        metadata: serde_json::json!({
            "account_id": account.id.get(),
            "plan_id": plan.id.get(),
            "cancel_action": format!("{}billing?error=cancelled", state.site_url),
        }),
    };
    match state.paystack.initialize(&request).await {
        Ok(started) => {
            tracing::info!(reference, plan = plan.name, "checkout started");
            Redirect::to(&started.authorization_url).into_response()
        }
        Err(error) => {
            tracing::error!(reference, %error, "starting a checkout failed");
            let reason = error.to_string();
            let outcome = PaymentOutcome {
                status: PaymentStatus::Failed,
                paystack_transaction_id: None,
                channel: None,
                paid_at: None,
                failure_reason: Some(&reason),
                authorization_code: None,
            };
            if let Err(error) = payments::settle(db, &reference, &outcome, store::now_ms()).await {
                tracing::error!(reference, %error, "recording the failed checkout failed");
            }
            back("error", unavailable_key(&error))
        }
    }
}

fn unavailable_key(error: &PaystackError) -> &'static str {
    if error.is_refusal() {
        "refused"
    } else {
        "paystack_unavailable"
    }
}

#[derive(Deserialize)]
pub struct Callback {
    reference: Option<String>,
    trxref: Option<String>,
}

/// `GET /billing/callback?reference=…&trxref=…`.
pub async fn callback(State(state): State<AppState>, Query(query): Query<Callback>) -> Response {
    let Some(reference) = query.reference.or(query.trxref) else {
        return back("error", "reference");
    };
    let result = fulfil::settle_reference(&state.db, &state.paystack, &reference).await;
    if matches!(result, Ok(Settled::Paid)) {
        state.gateway.handle.refresh_now();
    }
    match result {
        Ok(Settled::Paid | Settled::Earlier(PaymentStatus::Success)) => back("notice", "paid"),
        Ok(Settled::Declined | Settled::Earlier(PaymentStatus::Failed))
        | Ok(Settled::Earlier(PaymentStatus::Abandoned)) => back("error", "declined"),
        Ok(
            Settled::Superseded
            | Settled::Earlier(PaymentStatus::Superseded | PaymentStatus::Refunded),
        ) => back("notice", "refunded"),
        Ok(Settled::Mismatch(_) | Settled::Earlier(_)) => back("error", "mismatch"),
        Ok(Settled::StillPending) => back("notice", "processing"),
        Err(SettleError::UnknownReference | SettleError::Paystack(PaystackError::NotFound(_))) => {
            back("error", "reference")
        }
        Err(SettleError::Paystack(error)) => {
            tracing::error!(reference, %error, "verifying a payment failed");
            back("error", unavailable_key(&error))
        }
        Err(SettleError::Store(error)) => failed(&error),
    }
}

/// 503 with a generic message; the detail goes to the log.
pub(super) fn failed(error: &store::StoreError) -> Response {
    tracing::error!(%error, "billing failed");
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "billing is unavailable, try again\n",
    )
        .into_response()
}
