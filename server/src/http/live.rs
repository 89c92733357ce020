//! `/ws/live`: the Statistics page's live figures, one [`LiveFrame`] a second over a
//! WebSocket.
//!
//! The handshake is a GET that browsers send with the session cookie of any site that opens
//! it, so it is checked like a form post: the `Origin` must be ours (a cross-site page must
//! not read a customer's statistics), and the session must be signed in (401 otherwise). The
//! stream is scoped to the viewer's account; administrators also get the gateway's totals.
//! It ends when the session does: the account's session epoch is checked every few seconds,
//! so "sign out everywhere" and a password change close it too.
//!
//! Bounded: one gateway snapshot a second is taken by one task and shared by every socket
//! ([`LiveFeed`]); an account has at most [`MAX_SOCKETS_PER_ACCOUNT`] sockets open (the next
//! handshake gets `429`); a client message over [`MAX_MESSAGE_BYTES`] closes the socket.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::api::live::{ExitHealthCount, LiveFrame, LiveSession, LiveTraffic};
use app::api::session::ssr::Viewer;
use axum::Router;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tower_sessions::Session;

use crate::auth::Identity;
use crate::state::AppState;

/// How often a frame is sent.
const TICK: Duration = Duration::from_secs(1);
/// How often, in ticks, the exits' names are read again from the store.
const NAMES_EVERY: u32 = 10;
/// How often the session is checked again while the socket is open.
const RECHECK_EVERY: u32 = 5;
/// Sockets one account may have open at once (a few tabs and devices).
pub const MAX_SOCKETS_PER_ACCOUNT: usize = 8;
/// Largest message (and frame) a client may send; the page sends nothing but pings.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024;

/// The shared side of `/ws/live`: the latest gateway snapshot, taken once a tick by one task
/// for every socket, and each account's open sockets.
#[derive(Clone)]
pub struct LiveFeed {
    snapshots: Arc<watch::Sender<Arc<proxy::StatsSnapshot>>>,
    sockets: Arc<Mutex<HashMap<i64, usize>>>,
    /// The exits' display names by id (the gateway knows exits by id and address only).
    exit_names: Arc<Mutex<HashMap<i64, String>>>,
}

impl LiveFeed {
    /// Starts the task taking a snapshot every [`TICK`] until `shutdown` (in a cluster, every
    /// gateway's added up).
    pub fn start(
        gateways: crate::gateways::Gateways,
        db: store::Db,
        shutdown: CancellationToken,
    ) -> LiveFeed {
        let empty = cluster::merge_stats(Vec::new(), store::now_ms());
        let (sender, _) = watch::channel(Arc::new(empty));
        let snapshots = Arc::new(sender);
        let feeder = snapshots.clone();
        let exit_names: Arc<Mutex<HashMap<i64, String>>> = Arc::default();
        let names = exit_names.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut ticks = 0u32;
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    _ = tick.tick() => {}
                }
                if ticks.is_multiple_of(NAMES_EVERY) {
                    read_exit_names(&db, &names).await;
                }
                ticks = ticks.wrapping_add(1);
                let snapshot = tokio::select! {
                    () = shutdown.cancelled() => return,
                    snapshot = gateways.snapshot() => snapshot,
                };
                feeder.send_replace(Arc::new(snapshot));
            }
        });
        LiveFeed {
            snapshots,
            sockets: Arc::default(),
            exit_names,
        }
    }

    /// The latest snapshot.
    pub fn latest(&self) -> Arc<proxy::StatsSnapshot> {
        self.snapshots.borrow().clone()
    }

    /// The live sticky sessions of the latest snapshot that `keep` keeps, with their exits'
    /// names and places, and when the snapshot was taken.
    pub fn sessions(&self, keep: impl Fn(&proxy::SessionStats) -> bool) -> (i64, Vec<LiveSession>) {
        let snapshot = self.latest();
        let names = self
            .exit_names
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let sessions = snapshot
            .sessions
            .iter()
            .filter(|s| keep(s))
            .map(|s| session(s, &snapshot.exits, &names))
            .collect();
        (snapshot.taken_at_ms, sessions)
    }

    /// A place for one more socket of `account`, or `None` at the cap.
    fn admit(&self, account: i64) -> Option<SocketPlace> {
        let mut sockets = self
            .sockets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let open = sockets.entry(account).or_insert(0);
        if *open >= MAX_SOCKETS_PER_ACCOUNT {
            return None;
        }
        *open += 1;
        Some(SocketPlace {
            account,
            sockets: self.sockets.clone(),
        })
    }
}

/// Reads the exits' names into `names` (kept as they were when the store does not answer).
async fn read_exit_names(db: &store::Db, names: &Mutex<HashMap<i64, String>>) {
    match store::exits::list(db).await {
        Ok(exits) => {
            let read = exits.into_iter().map(|e| (e.id.get(), e.name)).collect();
            *names
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = read;
        }
        Err(error) => tracing::debug!(%error, "reading the exits' names failed"),
    }
}

/// One open socket of an account, given back when the socket ends.
struct SocketPlace {
    account: i64,
    sockets: Arc<Mutex<HashMap<i64, usize>>>,
}

impl Drop for SocketPlace {
    fn drop(&mut self) {
        let mut sockets = self
            .sockets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(open) = sockets.get_mut(&self.account) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                sockets.remove(&self.account);
            }
        }
    }
}

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
        (Some(viewer), Some(session)) => match Identity::current(session, store::now_ms()).await {
            Ok(identity) => identity.map(|identity| (*viewer, identity.epoch)),
            Err(error) => {
                tracing::error!(%error, "loading the session failed");
                return super::database_gate::unavailable_page();
            }
        },
        _ => None,
    };
    let Some((viewer, epoch)) = signed_in else {
        return (StatusCode::UNAUTHORIZED, "sign in first\n").into_response();
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    let Some(place) = state.live.admit(viewer.account_id) else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "this account has {MAX_SOCKETS_PER_ACCOUNT} live streams open already: close one\n"
            ),
        )
            .into_response();
    };
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            let _place = place;
            stream(state, viewer, epoch, socket).await;
        })
}

/// Sends a frame at every snapshot (once a second) until the client leaves, the session ends
/// or the service stops.
async fn stream(state: AppState, viewer: Viewer, epoch: i64, mut socket: WebSocket) {
    let mut snapshots = state.live.snapshots.subscribe();
    // The first frame at once, from the latest snapshot.
    snapshots.mark_changed();
    let mut ticks = 0u32;
    loop {
        tokio::select! {
            changed = snapshots.changed() => if changed.is_err() {
                return;
            },
            incoming = socket.recv() => match incoming {
                // Pings are answered by axum; anything else from the page is ignored. An
                // oversized message is an error: the socket ends.
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
        let snapshot = snapshots.borrow_and_update().clone();
        let frame = {
            let names = state
                .live
                .exit_names
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            frame(&snapshot, viewer, &names)
        };
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

/// The viewer's share of a gateway snapshot: its own traffic and sessions, or for
/// administrators the gateway's and every account's sessions.
fn frame(
    snapshot: &proxy::StatsSnapshot,
    viewer: Viewer,
    exit_names: &HashMap<i64, String>,
) -> LiveFrame {
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
        sessions: snapshot
            .sessions
            .iter()
            .filter(|s| viewer.admin || s.account_id == viewer.account_id)
            .map(|s| session(s, &snapshot.exits, exit_names))
            .collect(),
    }
}

/// A session with its exit's name and place.
fn session(
    s: &proxy::SessionStats,
    exits: &[proxy::ExitStats],
    exit_names: &HashMap<i64, String>,
) -> LiveSession {
    let exit = exits.iter().find(|e| e.id == s.exit_id);
    let name = match (s.exit_id, exit_names.get(&s.exit_id)) {
        (0, _) => "Direct egress".to_owned(),
        (_, Some(name)) => name.clone(),
        (id, None) => format!("Exit {id}"),
    };
    LiveSession {
        account_id: s.account_id,
        session: s.session.clone(),
        exit_id: s.exit_id,
        exit: name,
        country: exit.and_then(|e| e.country.clone()),
        city: exit.and_then(|e| e.city.clone()),
        started_at_ms: s.started_at_ms,
        expires_at_ms: s.expires_at_ms,
        open_connections: s.open_connections,
        bytes_up: s.bytes_up,
        bytes_down: s.bytes_down,
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
