//! The plans on sale, for the billing page.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A plan as a customer sees it on the billing page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOffer {
    /// The plan's id.
    pub id: i64,
    /// Display name ("Starter", …).
    pub name: String,
    /// Price per period in the currency's subunit (kobo for NGN).
    pub price_minor: i64,
    /// ISO 4217 currency code.
    pub currency: String,
    /// Requests per second the gateway allows.
    pub requests_per_second: i64,
    /// Concurrent connections the gateway allows.
    pub max_connections: i64,
    /// Bandwidth per period in bytes; `None` is unlimited.
    pub bandwidth_bytes: Option<i64>,
    /// Length of one period in days.
    pub period_days: i64,
}

/// The plans offered for sale, cheapest first.
#[server]
pub async fn list_plans() -> Result<Vec<PlanOffer>, ServerFnError> {
    let db = use_context::<store::Db>().ok_or_else(|| ServerFnError::new("no database"))?;
    let plans = store::plans::for_sale(&db).await.map_err(|error| {
        tracing::error!(%error, "listing plans failed");
        ServerFnError::new("plans are unavailable right now")
    })?;
    Ok(plans
        .into_iter()
        .map(|p| PlanOffer {
            id: p.id.0,
            name: p.name,
            price_minor: p.price_minor,
            currency: p.currency,
            requests_per_second: p.requests_per_second,
            max_connections: p.max_connections,
            bandwidth_bytes: p.bandwidth_bytes,
            period_days: p.period_days,
        })
        .collect())
}
