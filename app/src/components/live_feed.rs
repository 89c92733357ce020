//! The page's connection to `/ws/live`: a [`LiveFrame`] a second, reopened with backoff (1 s,
//! 2 s, 4 s… up to 30 s, with jitter) until the page goes away, and a status line that says
//! when it is offline. The server renders "Connecting…"; frames arrive once hydrated.

use leptos::prelude::*;

use crate::api::live::LiveFrame;

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

/// The latest frame and where the connection stands.
#[derive(Clone, Copy)]
pub struct LiveFeed {
    /// The latest frame (`None` until the first arrives).
    pub frame: RwSignal<Option<LiveFrame>>,
    /// The connection.
    pub status: RwSignal<Status>,
}

impl LiveFeed {
    /// Opens the page's socket (in the browser), closed when the calling component goes away.
    pub fn open() -> LiveFeed {
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
        LiveFeed { frame, status }
    }
}

/// The connection's status line.
#[component]
pub fn LiveStatus(id: &'static str, status: RwSignal<Status>) -> impl IntoView {
    view! {
        <p
            id=id
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
