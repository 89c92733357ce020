//! The banner on every dashboard page while the account's renewal failed or its period ended
//! unpaid (grace): when the card is tried again, or when service stops, and the way to
//! Billing to pay now. Rendered in the frame ([`super::layout::Layout`]) from
//! [`dunning_state`]; nothing at all when all is well or nobody is signed in.

use leptos::prelude::*;

use crate::api::billing::{DunningNotice, dunning_state};
use crate::format::utc_date;

/// The banner, when there is something to say.
#[component]
pub fn DunningBanner() -> impl IntoView {
    let notice = OnceResource::new(dunning_state());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match notice.await {
                    Ok(Some(notice)) => banner(&notice).into_any(),
                    // Nothing to say, or not known now: the pages say the rest.
                    _ => ().into_any(),
                }
            })}
        </Suspense>
    }
}

/// What the banner says, in the customer's words.
pub fn message(notice: &DunningNotice) -> String {
    let stops = utc_date(notice.grace_until);
    match (notice.renewal_failed, notice.next_retry_at) {
        (true, Some(retry)) => format!(
            "Your renewal payment failed — we will retry on {}; update your card or pay now on Billing \
             (service continues until {stops}).",
            utc_date(retry)
        ),
        (true, None) => format!(
            "Your renewal payment failed and will not be retried; service stops on {stops} unless you \
             pay now on Billing."
        ),
        (false, _) => format!(
            "Your plan's period has ended unpaid; service stops on {stops} unless you pay now on Billing."
        ),
    }
}

fn banner(notice: &DunningNotice) -> impl IntoView + use<> {
    view! {
        <div class="notice notice-error dunning-banner" role="alert" id="dunning-banner"
            data-next-retry=notice.next_retry_at.map(|at| at.to_string())>
            <span>{message(notice)}</span>
            " "
            <a class="button button-small" href="/billing" id="dunning-pay">"Go to Billing"</a>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_banner_names_the_retry_or_the_end() {
        let day = 86_400_000;
        let notice = DunningNotice {
            renewal_failed: true,
            next_retry_at: Some(1_795_331_109_123),
            grace_until: 1_795_331_109_123 + day,
        };
        let said = message(&notice);
        assert!(
            said.starts_with("Your renewal payment failed — we will retry on 2026-11-22"),
            "{said}"
        );
        assert!(said.contains("2026-11-23"), "{said}");
        let last = DunningNotice {
            next_retry_at: None,
            ..notice.clone()
        };
        assert!(message(&last).contains("will not be retried"));
        let unpaid = DunningNotice {
            renewal_failed: false,
            ..last
        };
        assert!(message(&unpaid).contains("ended unpaid"));
    }
}
