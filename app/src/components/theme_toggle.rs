//! The light/dark switch. The choice lives in a cookie so the server renders the right theme
//! on the first paint; without a choice the system preference applies (CSS media query).

use leptos::prelude::*;

/// The cookie that remembers the chosen theme.
pub const THEME_COOKIE: &str = "atlantic_theme";

/// A theme the user picked explicitly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    /// Dark text on light surfaces.
    Light,
    /// Light text on dark surfaces.
    Dark,
}

impl Theme {
    /// The value used in the cookie and in `<html data-theme>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    /// Parses a cookie or attribute value; anything else means "no explicit choice".
    pub fn parse(value: &str) -> Option<Theme> {
        match value {
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            _ => None,
        }
    }

    /// The theme a click switches to, given the current choice and the system preference.
    pub fn next(current: Option<Theme>, system_prefers_dark: bool) -> Theme {
        match current {
            Some(Theme::Dark) => Theme::Light,
            Some(Theme::Light) => Theme::Dark,
            None if system_prefers_dark => Theme::Light,
            None => Theme::Dark,
        }
    }
}

/// The theme chosen on this page (`None`: the system's), shared by the toggle and whatever
/// draws in the theme's colours itself (the charts redraw when it changes).
#[derive(Clone, Copy, Debug)]
pub struct ThemeChoice(pub RwSignal<Option<Theme>>);

impl ThemeChoice {
    /// Makes the page's choice (from the cookie) available to everything below the caller.
    pub fn provide() -> ThemeChoice {
        let choice = ThemeChoice(RwSignal::new(initial_theme()));
        provide_context(choice);
        choice
    }
}

/// The button in the top bar.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let theme = use_context::<ThemeChoice>()
        .unwrap_or_else(|| ThemeChoice(RwSignal::new(initial_theme())))
        .0;
    let on_click = move |_| {
        let next = Theme::next(theme.get_untracked(), system_prefers_dark());
        // the page first, so whatever redraws on the change sees the new theme
        apply(next);
        theme.set(Some(next));
    };
    view! {
        <button
            id="theme-toggle"
            class="icon-button"
            type="button"
            aria-label="Switch between light and dark theme"
            title="Switch theme"
            data-theme-choice=move || theme.get().map(Theme::as_str).unwrap_or("system")
            on:click=on_click
        >
            <span class="theme-icon" aria-hidden="true"></span>
        </button>
    }
}

/// The theme chosen in the request's cookie, if any.
#[cfg(feature = "ssr")]
pub fn theme_from_headers(headers: &http::HeaderMap) -> Option<Theme> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == THEME_COOKIE)
        .and_then(|(_, value)| Theme::parse(value))
}

#[cfg(feature = "ssr")]
fn initial_theme() -> Option<Theme> {
    use_context::<http::request::Parts>().and_then(|parts| theme_from_headers(&parts.headers))
}

#[cfg(not(feature = "ssr"))]
fn initial_theme() -> Option<Theme> {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .and_then(|html| html.get_attribute("data-theme"))
            .and_then(|v| Theme::parse(&v))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        None
    }
}

fn system_prefers_dark() -> bool {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
            .is_some_and(|m| m.matches())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        false
    }
}

/// Sets `<html data-theme>` and remembers the choice for a year.
fn apply(theme: Theme) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        if let Some(html) = document.document_element() {
            let _ = html.set_attribute("data-theme", theme.as_str());
        }
        if let Ok(html_doc) = document.dyn_into::<web_sys::HtmlDocument>() {
            let cookie = format!(
                "{THEME_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
                theme.as_str()
            );
            let _ = html_doc.set_cookie(&cookie);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = theme;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_choice_flips() {
        assert_eq!(Theme::next(Some(Theme::Dark), false), Theme::Light);
        assert_eq!(Theme::next(Some(Theme::Light), true), Theme::Dark);
    }

    #[test]
    fn first_click_leaves_the_system_theme() {
        assert_eq!(Theme::next(None, true), Theme::Light);
        assert_eq!(Theme::next(None, false), Theme::Dark);
    }

    #[test]
    fn only_known_values_parse() {
        assert_eq!(Theme::parse("dark"), Some(Theme::Dark));
        assert_eq!(Theme::parse("light"), Some(Theme::Light));
        assert_eq!(Theme::parse("Dark"), None);
        assert_eq!(Theme::parse(""), None);
    }
}
