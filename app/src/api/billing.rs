//! The Billing page's data: the current plan and its period, its automatic renewal, the
//! payment history, and whether Paystack is reachable. Buying and the renewal switch are form
//! posts handled by the server (`POST /billing/checkout`, `POST /billing/auto-renew`).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The live subscription.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentPlan {
    /// The plan's id.
    pub plan_id: i64,
    /// Its name.
    pub name: String,
    /// When the paid period ends (epoch ms).
    pub period_end: i64,
    /// `active` or `grace`.
    pub status: String,
    /// Whether the period is renewed automatically by charging the saved card.
    pub auto_renew: bool,
    /// Whether a card is saved for that (one is saved with a card payment).
    pub card_saved: bool,
}

/// One payment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRow {
    /// Our reference.
    pub reference: String,
    /// The plan bought.
    pub plan: String,
    /// Amount in the currency's subunit.
    pub amount_minor: i64,
    /// ISO 4217.
    pub currency: String,
    /// pending, success, failed, abandoned, mismatch, refunded, superseded.
    pub status: String,
    /// Started (epoch ms).
    pub created_at: i64,
}

/// Everything the Billing page shows besides the plans.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Billing {
    /// The live plan, if any.
    pub current: Option<CurrentPlan>,
    /// Latest payments first.
    pub payments: Vec<PaymentRow>,
    /// Paystack failed recently and checkout is paused (the circuit is open).
    pub paystack_unavailable: bool,
}

/// The signed-in account's billing state.
#[server(endpoint = "billing")]
pub async fn billing_overview() -> Result<Billing, ServerFnError> {
    use crate::api::access;
    let (db, account) = access::signed_in()?;
    let unavailable = access::internal("your billing details are");
    let now = store::now_ms();
    let plans = store::plans::list(&db).await.map_err(&unavailable)?;
    let name_of = |id: store::PlanId| {
        plans
            .iter()
            .find(|p| p.id == id)
            .map_or_else(|| format!("plan {}", id.get()), |p| p.name.clone())
    };
    let current = store::subscriptions::current(&db, account, now)
        .await
        .map_err(&unavailable)?
        .map(|s| CurrentPlan {
            plan_id: s.plan_id.get(),
            name: name_of(s.plan_id),
            period_end: s.period_end,
            status: s.status.as_str().to_owned(),
            auto_renew: s.auto_renew,
            card_saved: s.authorization_code.is_some(),
        });
    let payments = store::payments::list_for_account(&db, account, store::Page::first(50))
        .await
        .map_err(&unavailable)?
        .into_iter()
        .map(|p| PaymentRow {
            reference: p.reference,
            plan: name_of(p.plan_id),
            amount_minor: p.amount_minor,
            currency: p.currency,
            status: p.status.as_str().to_owned(),
            created_at: p.created_at,
        })
        .collect();
    let paystack_unavailable = use_context::<ssr::PaystackHealth>().is_some_and(|h| (h.0)());
    Ok(Billing {
        current,
        payments,
        paystack_unavailable,
    })
}

/// Server side: how the server tells the page about Paystack.
#[cfg(feature = "ssr")]
pub mod ssr {
    /// True while Paystack calls are refused without trying (circuit open).
    #[derive(Clone)]
    pub struct PaystackHealth(pub std::sync::Arc<dyn Fn() -> bool + Send + Sync>);
}
