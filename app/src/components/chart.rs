//! A chart drawn in the browser by ECharts (served by us, never a CDN) from an option the
//! server built. Without JavaScript the figure's caption and the tables next to it carry the
//! numbers.

use leptos::prelude::*;

/// One chart: `option` is ECharts option JSON; `label` describes it for screen readers.
#[component]
pub fn Chart(id: &'static str, option: String, label: String) -> impl IntoView {
    let node = NodeRef::<leptos::html::Div>::new();
    // Runs once the element is in the page (also after a client-side navigation re-renders it),
    // and again when the theme is switched: ECharts takes its colours at creation.
    #[cfg(feature = "hydrate")]
    {
        let theme = use_context::<crate::components::theme_toggle::ThemeChoice>();
        Effect::new(move |_| {
            if let Some(theme) = theme {
                theme.0.track();
            }
            if let Some(element) = node.get() {
                draw::when_ready(element.into(), option.clone(), 0);
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = option;
    view! { <div node_ref=node id=id class="chart" role="img" aria-label=label></div> }
}

#[cfg(feature = "hydrate")]
mod draw {
    use js_sys::{Function, JSON, Object, Reflect};
    use wasm_bindgen::{JsCast, JsValue};

    /// How many times to wait for the ECharts script (loaded with `defer`) before giving up.
    const ATTEMPTS: u32 = 40;

    /// Draws into `element` once ECharts has loaded.
    pub fn when_ready(element: web_sys::Element, option: String, attempt: u32) {
        match draw(&element, &option) {
            Ok(true) => {}
            Ok(false) if attempt < ATTEMPTS => leptos::prelude::set_timeout(
                move || when_ready(element, option, attempt + 1),
                std::time::Duration::from_millis(50),
            ),
            Ok(false) => {
                leptos::logging::warn!("ECharts did not load; chart {} not drawn", element.id())
            }
            Err(error) => leptos::logging::warn!("chart {}: {error:?}", element.id()),
        }
    }

    fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
        let f: Function = Reflect::get(target, &method.into())?.dyn_into()?;
        let array = js_sys::Array::new();
        for a in args {
            array.push(a);
        }
        f.apply(target, &array)
    }

    /// Draws the chart; `Ok(false)` while ECharts is not there yet.
    fn draw(element: &web_sys::Element, option: &str) -> Result<bool, JsValue> {
        let Some(window) = web_sys::window() else {
            return Ok(true);
        };
        let echarts = Reflect::get(&window, &"echarts".into())?;
        if echarts.is_undefined() {
            return Ok(false);
        }
        let existing = call(&echarts, "getInstanceByDom", &[element.clone().into()])?;
        if !existing.is_undefined() && !existing.is_null() {
            call(&existing, "dispose", &[])?;
        }
        let theme = if dark(&window) {
            JsValue::from_str("dark")
        } else {
            JsValue::NULL
        };
        let chart = call(&echarts, "init", &[element.into(), theme])?;
        let option: Object = JSON::parse(option)?.dyn_into()?;
        Reflect::set(&option, &"backgroundColor".into(), &"transparent".into())?;
        call(&chart, "setOption", &[option.into()])?;
        Ok(true)
    }

    /// Whether the page is dark: an explicit choice on `<html data-theme>`, else the system's.
    fn dark(window: &web_sys::Window) -> bool {
        let choice = window
            .document()
            .and_then(|d| d.document_element())
            .and_then(|html| html.get_attribute("data-theme"));
        match choice.as_deref() {
            Some("dark") => true,
            Some("light") => false,
            _ => window
                .match_media("(prefers-color-scheme: dark)")
                .ok()
                .flatten()
                .is_some_and(|m| m.matches()),
        }
    }
}
