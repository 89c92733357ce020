//! The application root: meta context, the router and one route per page.

use leptos::prelude::*;
use leptos_meta::{Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::components::layout::Layout;
use crate::pages::{
    activity::ActivityPage, admin::AdminPage, billing::BillingPage, login::LoginPage,
    login_code::LoginCodePage, not_found::NotFoundPage, register::RegisterPage,
    servers::ServersPage, settings::SettingsPage, statistics::StatisticsPage, usage::UsagePage,
};

/// The whole dashboard. Pages render inside the shared [`Layout`].
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=|page: String| {
            if page.is_empty() { "AtlanticProxy".to_string() } else { format!("{page} · AtlanticProxy") }
        } />
        <Router>
            <Layout>
                <Routes fallback=NotFoundPage>
                    <Route path=path!("/") view=StatisticsPage />
                    <Route path=path!("/servers") view=ServersPage />
                    <Route path=path!("/usage") view=UsagePage />
                    <Route path=path!("/activity") view=ActivityPage />
                    <Route path=path!("/settings") view=SettingsPage />
                    <Route path=path!("/billing") view=BillingPage />
                    <Route path=path!("/admin") view=AdminPage />
                    <Route path=path!("/login") view=LoginPage />
                    <Route path=path!("/login/code") view=LoginCodePage />
                    <Route path=path!("/register") view=RegisterPage />
                </Routes>
            </Layout>
        </Router>
    }
}
