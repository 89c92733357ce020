//! Billing with Paystack: the API client ([`paystack`]), checkout and callback
//! ([`checkout`]), settling a reference exactly once ([`fulfil`]), the webhook ([`webhook`]),
//! its signature ([`signature`]) and the built-in test double ([`double`]).

pub mod checkout;
pub mod double;
pub mod fulfil;
pub mod paystack;
pub mod signature;
pub mod webhook;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

/// `POST /billing/checkout`, `GET /billing/callback`, `POST /webhooks/paystack`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/billing/checkout", post(checkout::start))
        .route("/billing/callback", get(checkout::callback))
        .route("/webhooks/paystack", post(webhook::receive))
}
