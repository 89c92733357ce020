//! `/billing`: the plans on sale (from the database) with a buy button each, the current plan
//! and its period with its automatic renewal switch, and the payment history. Buying is a
//! plain form post to `POST /billing/checkout`, which sends the customer to Paystack; the
//! switch posts to `POST /billing/auto-renew`; outcomes come back as `?notice=` or `?error=`.
//! Each plan card shows what buying it costs now: switching plans mid-period credits the
//! unused part of the current plan, and the page states those terms before the customer pays.

use leptos::prelude::*;

use crate::api::billing::{Billing, CurrentPlan, PlanPrice, billing_overview};
use crate::api::plans::{PlanOffer, list_plans};
use crate::components::outcome::OutcomeNotice;
use crate::components::page_header::PageHeader;
use crate::format::{bytes, count, money, utc_date};
use crate::outcome::Page;

/// The billing page.
#[component]
pub fn BillingPage() -> impl IntoView {
    let plans = OnceResource::new(list_plans());
    let billing = OnceResource::new(billing_overview());
    view! {
        <PageHeader title="Billing" subtitle="Plans, your subscription and your payments." />
        <OutcomeNotice page=Page::Billing />
        <Suspense fallback=|| view! { <div class="plan-grid skeleton" aria-busy="true"></div> }>
            {move || Suspend::new(async move {
                match (plans.await, billing.await) {
                    (Ok(plans), Ok(billing)) => view! { <Overview plans billing /> }.into_any(),
                    (Err(e), _) | (_, Err(e)) => view! {
                        <p class="notice notice-error" role="alert">{e.to_string()}</p>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
    }
}

/// A payment's status in the customer's words.
fn status_label(status: &str) -> String {
    match status {
        "success" => "paid".to_owned(),
        "superseded" => "refund under way (you had switched plans)".to_owned(),
        other => other.to_owned(),
    }
}

#[component]
fn Overview(plans: Vec<PlanOffer>, billing: Billing) -> impl IntoView {
    let current_id = billing.current.as_ref().map(|c| c.plan_id);
    let current = match &billing.current {
        Some(plan) => view! {
            <p id="current-plan">
                "Current plan: " <strong>{plan.name.clone()}</strong>
                {format!(" · {} until ", plan.status)}
                <time data-epoch-ms=plan.period_end.to_string()>{utc_date(plan.period_end)}</time>
            </p>
            {auto_renewal(plan)}
        }
        .into_any(),
        None => view! {
            <p id="current-plan">"No plan yet: pick one below to start sending traffic."</p>
        }
        .into_any(),
    };
    let paused = billing.paystack_unavailable.then(|| {
        view! {
            <p class="notice notice-error" role="alert" id="paystack-down">
                "Paystack is not reachable right now, so checkout is paused. Try again in a minute."
            </p>
        }
    });
    let cards: Vec<AnyView> = plans
        .into_iter()
        .filter(|p| p.price_minor > 0)
        .map(|plan| {
            let is_current = current_id == Some(plan.id);
            let price = billing
                .prices
                .iter()
                .find(|p| p.plan_id == plan.id)
                .cloned();
            view! { <PlanCard plan is_current price /> }.into_any()
        })
        .collect();
    let history = payments_table(&billing);
    view! {
        <section aria-labelledby="plans-heading">
            <h2 id="plans-heading">"Plans"</h2>
            {current}
            {paused}
            <div class="plan-grid">{cards}</div>
            <p class="muted" id="plan-terms">
                "A plan paid by card renews automatically with that card a day before its period ends; "
                "you can turn this off here at any time. If that payment is declined, we try the card "
                "again one and two days after the period ends, while your service continues for three "
                "days of grace. Renewing the same plan early keeps the time you have left."
            </p>
            <p class="muted" id="proration-terms">
                "Switching to another plan: the new plan starts at once, for its full period, and the "
                "unused part of what you paid for your current period (in proportion to the time left, "
                "rounded down to the kobo) is taken off its price. You always pay at least ₦50, "
                "Paystack's smallest charge; credit beyond that is not paid out. The amount on each "
                "plan is what you pay now."
            </p>
        </section>
        <section class="card settings-section" aria-labelledby="payments-heading">
            <h2 id="payments-heading">"Payments"</h2>
            {history}
        </section>
    }
    .into_any()
}

/// The automatic renewal state of the current plan and the form that switches it.
fn auto_renewal(plan: &CurrentPlan) -> AnyView {
    let state = match (plan.auto_renew, plan.card_saved) {
        (true, true) => "on: your saved card is charged a day before the period ends",
        (true, false) => "on, once a card is saved with your next card payment",
        (false, _) => "off: the plan ends with its period unless you renew it",
    };
    let (now, value, label) = if plan.auto_renew {
        ("on", "off", "Turn automatic renewal off")
    } else {
        ("off", "on", "Turn automatic renewal on")
    };
    view! {
        <form method="post" action="/billing/auto-renew" id="auto-renew">
            <p>
                "Automatic renewal: "
                <strong data-auto-renew=now>{state}</strong>
                " "
                <input type="hidden" name="enabled" value=value />
                <button class="button button-quiet button-small" type="submit">{label}</button>
            </p>
        </form>
    }
    .into_any()
}

fn payments_table(billing: &Billing) -> AnyView {
    if billing.payments.is_empty() {
        return view! { <p class="muted">"No payments yet."</p> }.into_any();
    }
    let rows: Vec<AnyView> = billing
        .payments
        .iter()
        .map(|p| {
            view! {
                <tr>
                    <td>{utc_date(p.created_at)}</td>
                    <td>{p.plan.clone()}</td>
                    <td>
                        {money(p.amount_minor, &p.currency)}
                        {(p.credit_minor > 0).then(|| format!(" (after {} credit)", money(p.credit_minor, &p.currency)))}
                    </td>
                    <td class=format!("payment-{}", p.status)>{status_label(&p.status)}</td>
                    <td><code>{p.reference.clone()}</code></td>
                </tr>
            }
            .into_any()
        })
        .collect();
    view! {
        <table class="table" id="payments-table">
            <thead>
                <tr>
                    <th scope="col">"Date (UTC)"</th><th scope="col">"Plan"</th><th scope="col">"Amount"</th>
                    <th scope="col">"Status"</th><th scope="col">"Reference"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn PlanCard(plan: PlanOffer, is_current: bool, price: Option<PlanPrice>) -> impl IntoView {
    let bandwidth = plan
        .bandwidth_bytes
        .map(|b| bytes(u64::try_from(b).unwrap_or(0)))
        .unwrap_or_else(|| "Unlimited".to_string());
    let action = if is_current { "Renew" } else { "Buy" };
    view! {
        <article class="card plan-card" class:plan-current=is_current data-plan=plan.name.to_lowercase()>
            <h3>{plan.name.clone()}{is_current.then_some(" (current)")}</h3>
            <p class="plan-price">
                {money(plan.price_minor, &plan.currency)}
                <span class="muted">{format!(" / {} days", plan.period_days)}</span>
            </p>
            <ul class="plan-limits">
                <li><strong>{bandwidth}</strong>" bandwidth"</li>
                <li><strong>{count(plan.requests_per_second)}</strong>" requests/s"</li>
                <li><strong>{count(plan.max_connections)}</strong>" concurrent connections"</li>
            </ul>
            {price.filter(|p| p.credit_minor > 0).map(|p| view! {
                <p class="plan-credit" data-credit-minor=p.credit_minor.to_string()
                    data-amount-minor=p.amount_minor.to_string()>
                    "You pay " <strong>{money(p.amount_minor, &plan.currency)}</strong>
                    " now: " {money(p.credit_minor, &plan.currency)}
                    " credit for the unused part of your current plan."
                </p>
            })}
            <form method="post" action="/billing/checkout">
                <input type="hidden" name="plan" value=plan.id.to_string() />
                <button class="button" type="submit" aria-label=format!("{action} {}", plan.name)>{action}</button>
            </form>
        </article>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_calendar_days() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(951_782_400_000), "2000-02-29");
        assert_eq!(utc_date(1_795_331_109_123), "2026-11-22");
        assert_eq!(utc_date(1_795_331_109_123 + 30 * 86_400_000), "2026-12-22");
    }
}
