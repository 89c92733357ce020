//! The Statistics page's live tiles, fed by `/ws/live` once a second. The page reconnects with
//! backoff (1 s, 2 s, 4 s… up to 30 s, with jitter) and says when it is offline.

use leptos::prelude::*;

use crate::api::live::{LiveFrame, LiveTraffic};
use crate::format;

/// Where the connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Opening the socket (also what the server renders).
    Connecting,
    /// Frames are arriving.
    Live,
    /// Closed; the next attempt comes after this many seconds.
    Offline(u32),
}

impl Status {
    fn text(self) -> String {
        match self {
            Status::Connecting => "Connecting…".to_owned(),
            Status::Live => "Live".to_owned(),
            Status::Offline(secs) => format!("Offline — reconnecting in {secs} s"),
        }
    }
}

/// Live tiles for the viewer's traffic (and the gateway's, for administrators).
#[component]
pub fn LiveTiles() -> impl IntoView {
    let frame = RwSignal::new(None::<LiveFrame>);
    let status = RwSignal::new(Status::Connecting);
    #[cfg(feature = "hydrate")]
    {
        let socket = socket::Socket::new(frame, status);
        let started = socket.clone();
        Effect::new(move |_| started.connect(0));
        let socket = send_wrapper::SendWrapper::new(socket);
        on_cleanup(move || socket.stop());
    }
    let account = Signal::derive(move || frame.with(|f| f.as_ref().map(|f| f.account.clone())));
    let global = Signal::derive(move || frame.with(|f| f.as_ref().and_then(|f| f.global.clone())));
    view! {
        <section class="live" aria-labelledby="live-heading">
            <div class="live-head">
                <h2 id="live-heading">"Right now"</h2>
                <p
                    id="live-status"
                    class="live-status"
                    role="status"
                    data-status=move || match status.get() {
                        Status::Connecting => "connecting",
                        Status::Live => "live",
                        Status::Offline(_) => "offline",
                    }
                >
                    <span class="live-dot" aria-hidden="true"></span>
                    {move || status.get().text()}
                </p>
            </div>
            <Tiles prefix="tile" traffic=account />
            {move || {
                global
                    .get()
                    .map(|_| {
                        view! {
                            <h3 class="live-subhead">"Whole gateway"</h3>
                            <Tiles prefix="global" traffic=global />
                        }
                    })
            }}
        </section>
    }
}

#[component]
fn Tiles(prefix: &'static str, traffic: Signal<Option<LiveTraffic>>) -> impl IntoView {
    let shown = move |f: fn(&LiveTraffic) -> String| {
        move || traffic.with(|t| t.as_ref().map_or_else(|| "—".to_owned(), f))
    };
    fn rate(bytes: f64) -> String {
        format!("{}/s", format::bytes(bytes.max(0.0).round() as u64))
    }
    view! {
        <dl class="tiles">
            <Tile id=format!("{prefix}-active") label="Open connections" value=shown(|t| t.active_connections.to_string()) />
            <Tile id=format!("{prefix}-down") label="Download" value=shown(|t| rate(t.bytes_down_per_sec)) />
            <Tile id=format!("{prefix}-up") label="Upload" value=shown(|t| rate(t.bytes_up_per_sec)) />
            <Tile id=format!("{prefix}-rps") label="Requests/s" value=shown(|t| format!("{:.1}", t.requests_per_sec)) />
            <Tile
                id=format!("{prefix}-success")
                label="Success rate"
                value=shown(|t| t.success_rate.map_or_else(|| "—".to_owned(), |r| format!("{:.1} %", r * 100.0)))
            />
            <Tile id=format!("{prefix}-requests") label="Requests since restart" value=shown(|t| format::count(t.requests_total as i64)) />
        </dl>
    }
}

#[component]
fn Tile(
    id: String,
    label: &'static str,
    value: impl Fn() -> String + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <div class="tile">
            <dt>{label}</dt>
            <dd id=id>{value}</dd>
        </div>
    }
}

#[cfg(feature = "hydrate")]
mod socket {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;
    use std::time::Duration;

    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{CloseEvent, MessageEvent, WebSocket};

    use super::Status;
    use crate::api::live::{LiveFrame, PATH};

    /// Longest wait between attempts.
    const MAX_BACKOFF_SECS: u32 = 30;

    /// The page's connection to `/ws/live`, reopened until the page goes away.
    #[derive(Clone)]
    pub struct Socket {
        frame: RwSignal<Option<LiveFrame>>,
        status: RwSignal<Status>,
        stopped: Rc<Cell<bool>>,
        current: Rc<RefCell<Option<WebSocket>>>,
    }

    impl Socket {
        pub fn new(frame: RwSignal<Option<LiveFrame>>, status: RwSignal<Status>) -> Self {
            Self {
                frame,
                status,
                stopped: Rc::new(Cell::new(false)),
                current: Rc::new(RefCell::new(None)),
            }
        }

        /// Closes the socket and stops reconnecting.
        pub fn stop(&self) {
            self.stopped.set(true);
            if let Some(ws) = self.current.borrow_mut().take() {
                let _ = ws.close();
            }
        }

        /// Opens the socket; `failures` is how many attempts in a row have failed.
        pub fn connect(&self, failures: u32) {
            if self.stopped.get() {
                return;
            }
            let Some(url) = url() else { return };
            let ws = match WebSocket::new(&url) {
                Ok(ws) => ws,
                Err(_) => return self.retry(failures),
            };
            let opened = Rc::new(Cell::new(false));

            let (status, was_open) = (self.status, opened.clone());
            let on_open = Closure::<dyn FnMut()>::new(move || {
                was_open.set(true);
                let _ = status.try_set(Status::Live);
            });
            let frame = self.frame;
            let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                if let Some(text) = e.data().as_string()
                    && let Ok(f) = serde_json::from_str::<LiveFrame>(&text)
                {
                    let _ = frame.try_set(Some(f));
                }
            });
            let this = self.clone();
            let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_: CloseEvent| {
                // A socket that worked resets the backoff.
                let failures = if opened.get() { 0 } else { failures + 1 };
                this.retry(failures);
            });
            ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
            ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
            // The handlers live as long as the socket; a few per reconnect.
            on_open.forget();
            on_message.forget();
            on_close.forget();
            *self.current.borrow_mut() = Some(ws);
        }

        fn retry(&self, failures: u32) {
            if self.stopped.get() {
                return;
            }
            let base = 1u32 << failures.min(5);
            let secs = base.min(MAX_BACKOFF_SECS);
            let _ = self.status.try_set(Status::Offline(secs));
            // Up to half a second of jitter, so many pages do not reconnect in step.
            let jitter = (js_sys::Math::random() * 500.0) as u64;
            let this = self.clone();
            set_timeout(
                move || this.connect(failures),
                Duration::from_millis(u64::from(secs) * 1000 + jitter),
            );
        }
    }

    /// `ws(s)://<this host>/ws/live`.
    fn url() -> Option<String> {
        let location = web_sys::window()?.location();
        let scheme = if location.protocol().ok()? == "https:" {
            "wss"
        } else {
            "ws"
        };
        Some(format!("{scheme}://{}{PATH}", location.host().ok()?))
    }
}
