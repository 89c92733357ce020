//! The Statistics page's live tiles, fed by `/ws/live` once a second (see [`live_feed`]).
//!
//! [`live_feed`]: crate::components::live_feed

use leptos::prelude::*;

use crate::api::live::LiveTraffic;
use crate::components::live_feed::{LiveFeed, LiveStatus};
use crate::format;

/// Live tiles for the viewer's traffic (and the gateway's, for administrators).
#[component]
pub fn LiveTiles() -> impl IntoView {
    let LiveFeed { frame, status } = LiveFeed::open();
    let account = Signal::derive(move || frame.with(|f| f.as_ref().map(|f| f.account.clone())));
    let global = Signal::derive(move || frame.with(|f| f.as_ref().and_then(|f| f.global.clone())));
    view! {
        <section class="live" aria-labelledby="live-heading">
            <div class="live-head">
                <h2 id="live-heading">"Right now"</h2>
                <LiveStatus id="live-status" status />
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
