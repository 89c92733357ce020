//! The HTML document around the app (server only): head, hashed assets, theme from the cookie.

use leptos::prelude::*;
use leptos_meta::MetaTags;

use crate::App;
use crate::components::theme_toggle::{Theme, theme_from_headers};

/// The content-hashed asset names the build wrote into the site's `assets.json`.
#[derive(Clone, Debug)]
pub struct Assets {
    /// The stylesheet's file name under `/pkg/`.
    pub css: String,
    /// ECharts' file name under `/pkg/` (served by us, never a CDN).
    pub echarts: String,
}

/// Renders the document. The theme comes from a cookie so the first paint is already right,
/// with no inline script.
pub fn shell(options: LeptosOptions, assets: Assets) -> impl IntoView {
    let theme = use_context::<http::request::Parts>()
        .and_then(|parts| theme_from_headers(&parts.headers))
        .map(Theme::as_str);
    let pkg = options.site_pkg_dir.clone();
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <link rel="stylesheet" href=format!("/{pkg}/{}", assets.css) />
                <script src=format!("/{pkg}/{}", assets.echarts) defer></script>
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}
