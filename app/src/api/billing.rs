//! The Billing page's data: the current plan and its period, its automatic renewal, the
//! payment history, what switching to each plan costs now (the unused part of the current
//! plan credited), and whether Paystack is reachable; and the dunning state every page's
//! banner shows ([`dunning_state`]). Buying and the renewal switch are form posts handled by
//! the server (`POST /billing/checkout`, `POST /billing/auto-renew`).

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
    /// The credit for the unused part of the plan left, already taken off `amount_minor`.
    pub credit_minor: i64,
}

/// What buying a plan costs now, with the credit for the unused part of the current plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanPrice {
    /// The plan's id.
    pub plan_id: i64,
    /// The credit taken off its price.
    pub credit_minor: i64,
    /// What the checkout asks for.
    pub amount_minor: i64,
}

/// A renewal that did not go through while the account still has service: what the banner on
/// every page says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DunningNotice {
    /// Whether an automatic renewal was declined (otherwise the period simply ended unpaid).
    pub renewal_failed: bool,
    /// When the saved card is tried again, if it will be (epoch ms).
    pub next_retry_at: Option<i64>,
    /// When service stops unless a payment goes through (epoch ms).
    pub grace_until: i64,
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
    /// What each plan on sale costs now, credit taken off.
    pub prices: Vec<PlanPrice>,
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
            credit_minor: p.credit_minor,
        })
        .collect();
    let mut prices = Vec::new();
    for plan in plans.iter().filter(|p| p.for_sale && p.price_minor > 0) {
        let prorated = store::payments::proration::for_switch(&db, account, plan, now)
            .await
            .map_err(&unavailable)?;
        prices.push(PlanPrice {
            plan_id: plan.id.get(),
            credit_minor: prorated.credit_minor,
            amount_minor: prorated.amount_minor,
        });
    }
    let paystack_unavailable = use_context::<ssr::PaystackHealth>().is_some_and(|h| (h.0)());
    Ok(Billing {
        current,
        payments,
        paystack_unavailable,
        prices,
    })
}

/// The signed-in account's dunning state, for the banner on every page: `None` when all is
/// well, and for a visitor who is not signed in (the banner is in the frame of the sign-in
/// pages too, which must not answer 401 for it).
#[server(endpoint = "billing/dunning")]
pub async fn dunning_state() -> Result<Option<DunningNotice>, ServerFnError> {
    use crate::api::access;
    use crate::api::session::ssr::viewer;
    let Some(viewer) = viewer() else {
        return Ok(None);
    };
    let db = access::db()?;
    let account = store::AccountId(viewer.account_id);
    let dunning = store::payments::renewal_attempts::dunning(&db, account, store::now_ms())
        .await
        .map_err(access::internal("your billing state is"))?;
    Ok(dunning.map(|d| DunningNotice {
        renewal_failed: d.renewal_failed,
        next_retry_at: d.next_retry_at,
        grace_until: d.grace_until,
    }))
}

/// Server side: how the server tells the page about Paystack.
#[cfg(feature = "ssr")]
pub mod ssr {
    /// True while Paystack calls are refused without trying (circuit open).
    #[derive(Clone)]
    pub struct PaystackHealth(pub std::sync::Arc<dyn Fn() -> bool + Send + Sync>);
}
