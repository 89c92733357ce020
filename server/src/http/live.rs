//! `/ws/live`: the Statistics page's live figures, one [`LiveFrame`] a second over a
//! WebSocket.
//!
//! The handshake is a GET that browsers send with the session cookie of any site that opens
//! it, so it is checked like a form post: the `Origin` must be ours (a cross-site page must
//! not read a customer's statistics), and the session must be signed in (401 otherwise). The
//! stream is scoped to the viewer's account; administrators also get the gateway's totals.
//! It ends when the session does: the account's session epoch is checked every few seconds,
//! so "sign out everywhere" and a password change close it too.

use std::time::Duration;

use app::api::live::{ExitHealthCount, LiveFrame, LiveTraffic};
use app::api::session::ssr::Viewer;
use axum::Router;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_sessions::Session;

use crate::auth::Identity;
use crate::state::AppState;

/// How often a frame is sent.
const TICK: Duration = Duration::from_secs(1);
/// How often the session is checked again while the socket is open.
const RECHECK_EVERY: u32 = 5;

/// The `/ws/live` route (inside the session and identity layers).
pub fn router() -> Router<AppState> {
    Router::new().route(app::api::live::PATH, get(upgrade))
}

async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if !super::csrf::is_same_origin(origin, host, &state.config.public_url) {
        tracing::warn!(
            origin = origin.unwrap_or("-"),
            "cross-origin /ws/live refused"
        );
        return (StatusCode::FORBIDDEN, "cross-origin WebSocket refused\n").into_response();
    }
    let signed_in = match (extensions.get::<Viewer>(), extensions.get::<Session>()) {
        (Some(viewer), Some(session)) => Identity::current(session, store::now_ms())
            .await
            .map(|identity| (*viewer, identity.epoch)),
        _ => None,
    };
    let Some((viewer, epoch)) = signed_in else {
        return (StatusCode::UNAUTHORIZED, "sign in first\n").into_response();
    };
    match ws {
        Ok(ws) => ws.on_upgrade(move |socket| stream(state, viewer, epoch, socket)),
        Err(rejection) => rejection.into_response(),
    }
}

/// Sends a frame every second until the client leaves, the session ends or the service stops.
async fn stream(state: AppState, viewer: Viewer, epoch: i64, mut socket: WebSocket) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut ticks = 0u32;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            incoming = socket.recv() => match incoming {
                // Pings are answered by axum; anything else from the page is ignored.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            },
            () = state.shutdown.cancelled() => {
                close(&mut socket, close_code::AWAY, "the service is restarting").await;
                return;
            }
        }
        ticks = ticks.wrapping_add(1);
        if ticks.is_multiple_of(RECHECK_EVERY) && !still_signed_in(&state, viewer, epoch).await {
            close(&mut socket, close_code::POLICY, "signed out").await;
            return;
        }
        let frame = frame(&state.gateway.handle.stats().snapshot(), viewer);
        let Ok(text) = serde_json::to_string(&frame) else {
            return;
        };
        if socket.send(Message::Text(text.into())).await.is_err() {
            return;
        }
    }
}

/// Whether the account still exists, keeps its role, and has not ended its sessions since.
async fn still_signed_in(state: &AppState, viewer: Viewer, epoch: i64) -> bool {
    match store::accounts::by_id(&state.db, store::AccountId(viewer.account_id)).await {
        Ok(Some(account)) => {
            account.session_epoch == epoch
                && (account.role == store::accounts::Role::Admin) == viewer.admin
        }
        Ok(None) => false,
        // A database hiccup does not end the stream; the next check decides.
        Err(error) => {
            tracing::warn!(%error, "re-checking a live stream's session failed");
            true
        }
    }
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// The viewer's share of a gateway snapshot.
fn frame(snapshot: &proxy::StatsSnapshot, viewer: Viewer) -> LiveFrame {
    let account = snapshot
        .accounts
        .iter()
        .find(|a| a.account_id == viewer.account_id)
        .map(|a| traffic(&a.traffic))
        .unwrap_or_default();
    let enabled: Vec<&proxy::ExitStats> = snapshot.exits.iter().filter(|e| e.enabled).collect();
    LiveFrame {
        taken_at_ms: snapshot.taken_at_ms,
        account,
        global: viewer.admin.then(|| traffic(&snapshot.global)),
        exits: ExitHealthCount {
            healthy: count(enabled.iter().filter(|e| e.healthy).count()),
            enabled: count(enabled.len()),
        },
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn traffic(t: &proxy::TrafficStats) -> LiveTraffic {
    LiveTraffic {
        active_connections: t.active_connections,
        bytes_up_per_sec: t.bytes_up_per_sec,
        bytes_down_per_sec: t.bytes_down_per_sec,
        requests_per_sec: t.requests_per_sec,
        success_rate: (t.requests_per_sec > 0.0).then(|| (1.0 - t.error_rate).clamp(0.0, 1.0)),
        bytes_total: t.bytes_up_total.saturating_add(t.bytes_down_total),
        requests_total: t.requests_total,
    }
}
