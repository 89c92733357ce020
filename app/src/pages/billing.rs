//! `/billing`: the plans on sale (from the database), the current plan and payment history.

use leptos::prelude::*;

use crate::api::plans::{PlanOffer, list_plans};
use crate::components::page_header::PageHeader;
use crate::format::{bytes, count, money};

/// The billing page.
#[component]
pub fn BillingPage() -> impl IntoView {
    let plans = OnceResource::new(list_plans());
    view! {
        <PageHeader title="Billing" subtitle="Plans, your subscription and your payments." />
        <section aria-labelledby="plans-heading">
            <h2 id="plans-heading">"Plans"</h2>
            <Suspense fallback=|| view! { <div class="plan-grid skeleton" aria-busy="true"></div> }>
                {move || Suspend::new(async move {
                    match plans.await {
                        Ok(plans) => view! {
                            <div class="plan-grid">
                                {plans.into_iter().map(|p| view! { <PlanCard plan=p /> }).collect_view()}
                            </div>
                        }
                        .into_any(),
                        Err(e) => view! {
                            <p class="notice notice-error" role="alert">{e.to_string()}</p>
                        }
                        .into_any(),
                    }
                })}
            </Suspense>
            <p class="muted">"Checkout with Paystack opens with the billing release."</p>
        </section>
    }
}

#[component]
fn PlanCard(plan: PlanOffer) -> impl IntoView {
    let bandwidth = plan
        .bandwidth_bytes
        .map(|b| bytes(u64::try_from(b).unwrap_or(0)))
        .unwrap_or_else(|| "Unlimited".to_string());
    view! {
        <article class="card plan-card" data-plan=plan.name.to_lowercase()>
            <h3>{plan.name.clone()}</h3>
            <p class="plan-price">
                {money(plan.price_minor, &plan.currency)}
                <span class="muted">{format!(" / {} days", plan.period_days)}</span>
            </p>
            <ul class="plan-limits">
                <li><strong>{bandwidth}</strong>" bandwidth"</li>
                <li><strong>{count(plan.requests_per_second)}</strong>" requests/s"</li>
                <li><strong>{count(plan.max_connections)}</strong>" concurrent connections"</li>
            </ul>
        </article>
    }
}
