//! The frame around every page: top bar, side navigation (a drawer at phone width), content.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::components::account_menu::AccountMenu;
use crate::components::dunning_banner::DunningBanner;
use crate::components::theme_toggle::{ThemeChoice, ThemeToggle};

/// The navigation entries, in order: (href, label).
pub const NAV: [(&str, &str); 6] = [
    ("/", "Statistics"),
    ("/servers", "Servers"),
    ("/usage", "Usage"),
    ("/activity", "Activity"),
    ("/settings", "Settings"),
    ("/billing", "Billing"),
];

/// Wraps a page in the dashboard frame.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let (nav_open, set_nav_open) = signal(false);
    ThemeChoice::provide();

    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <div
            class="frame"
            class:nav-open=nav_open
            on:keydown=move |ev| {
                if ev.key() == "Escape" {
                    set_nav_open.set(false);
                }
            }
        >
            <header class="topbar">
                <button
                    id="nav-toggle"
                    class="icon-button nav-toggle"
                    type="button"
                    aria-controls="sidebar"
                    aria-expanded=move || nav_open.get().to_string()
                    aria-label="Menu"
                    on:click=move |_| set_nav_open.update(|open| *open = !*open)
                >
                    <span class="burger" aria-hidden="true"></span>
                </button>
                <a class="brand" href="/">
                    <span class="brand-mark" aria-hidden="true"></span>
                    "AtlanticProxy"
                </a>
                <div class="topbar-actions">
                    <ThemeToggle />
                    <AccountMenu />
                </div>
            </header>
            // Following a link closes the drawer (on a phone it covers the page).
            <nav id="sidebar" class="sidebar" aria-label="Main" on:click=move |_| set_nav_open.set(false)>
                <ul>
                    {NAV
                        .iter()
                        .map(|(href, label)| {
                            view! {
                                <li>
                                    <A href=*href exact=true>
                                        {*label}
                                    </A>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </nav>
            <main id="main" class="content" tabindex="-1">
                <DunningBanner />
                {children()}
            </main>
        </div>
    }
}
