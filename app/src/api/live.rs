//! What `/ws/live` sends once a second: the viewer's live traffic and sticky sessions and, for
//! administrators, the whole gateway's. The server builds these from the gateway's snapshot;
//! the Statistics page's tiles and the Usage page's session inspector read them.

use serde::{Deserialize, Serialize};

/// The WebSocket's path.
pub const PATH: &str = "/ws/live";

/// Live figures of one scope (an account, or the whole gateway).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveTraffic {
    /// Client connections open now.
    pub active_connections: u64,
    /// Bytes per second toward destinations (about the last second).
    pub bytes_up_per_sec: f64,
    /// Bytes per second delivered to the client.
    pub bytes_down_per_sec: f64,
    /// Requests per second.
    pub requests_per_sec: f64,
    /// Share of the last second's requests that succeeded (0..=1); `None` without requests.
    pub success_rate: Option<f64>,
    /// Bytes both ways since the gateway started.
    pub bytes_total: u64,
    /// Requests since the gateway started.
    pub requests_total: u64,
}

/// Healthy exits out of all enabled ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitHealthCount {
    /// Enabled and healthy.
    pub healthy: u32,
    /// Enabled.
    pub enabled: u32,
}

/// One message of `/ws/live`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveFrame {
    /// When the gateway took the snapshot (epoch ms).
    pub taken_at_ms: i64,
    /// The viewer's own traffic.
    pub account: LiveTraffic,
    /// The whole gateway (administrators only).
    pub global: Option<LiveTraffic>,
    /// Exit health across the gateway.
    pub exits: ExitHealthCount,
    /// Live sticky sessions: the viewer's, or every account's for administrators; by account
    /// and session id.
    #[serde(default)]
    pub sessions: Vec<LiveSession>,
}

/// A live sticky session, as the session inspector shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveSession {
    /// The account.
    pub account_id: i64,
    /// The session id (`-session-ID` in the proxy username).
    pub session: String,
    /// The exit it is bound to; `0` is direct egress.
    pub exit_id: i64,
    /// What the exit is called on the Servers page (`Direct egress` for `0`).
    pub exit: String,
    /// The exit's country (ISO code, lower case), when known.
    pub country: Option<String>,
    /// The exit's city, when tagged.
    pub city: Option<String>,
    /// When the session started (epoch ms).
    pub started_at_ms: i64,
    /// When it ends unless used again after a move (epoch ms).
    pub expires_at_ms: i64,
    /// Connections open now.
    pub open_connections: u32,
    /// Bytes sent toward destinations since it started.
    pub bytes_up: u64,
    /// Bytes delivered since it started.
    pub bytes_down: u64,
}
