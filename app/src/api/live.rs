//! What `/ws/live` sends once a second: the viewer's live traffic and, for administrators,
//! the whole gateway's. The server builds these from the gateway's snapshot; the Statistics
//! page reads them.

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
}
