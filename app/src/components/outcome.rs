//! The message for the last form post's outcome, read from the page's URL (see
//! [`crate::outcome`]). Every page that posts forms shows it the same way; what differs per
//! page is only where the message sits and how it goes away.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::outcome::{Outcome, Page, Tone};

/// The outcome in the URL, if the page knows it.
#[component]
pub fn OutcomeNotice(page: Page) -> impl IntoView {
    let query = use_query_map();
    move || {
        query
            .with(|q| Outcome::from_query(page, |name| q.get(name)))
            .map(|outcome| notice(page, outcome))
    }
}

fn notice(page: Page, outcome: Outcome) -> impl IntoView {
    let look = Look::of(page);
    let tone = outcome.tone();
    let class = match tone {
        Tone::Success if look.toasts => "notice notice-ok toast",
        Tone::Success => "notice notice-ok",
        Tone::Info => "notice",
        Tone::Error => "notice notice-error",
    };
    let role = if tone == Tone::Error && look.errors_alert {
        "alert"
    } else {
        "status"
    };
    view! { <p class=class role=role id=look.id>{outcome.message()}</p> }
}

/// How a page presents its outcomes.
struct Look {
    /// The message's element id, for links and tests.
    id: Option<&'static str>,
    /// Successes fade after a few seconds (pages where the change shows in the page itself).
    toasts: bool,
    /// Refusals interrupt a screen reader (forms the customer is filling in).
    errors_alert: bool,
}

impl Look {
    fn of(page: Page) -> Look {
        let (id, toasts, errors_alert) = match page {
            Page::Login | Page::LoginCode | Page::Register => (None, false, true),
            Page::Settings => (Some("settings-outcome"), true, true),
            Page::Servers => (Some("servers-outcome"), true, false),
            Page::Admin => (Some("admin-outcome"), true, false),
            Page::Billing => (Some("billing-outcome"), false, false),
        };
        Look {
            id,
            toasts,
            errors_alert,
        }
    }
}
