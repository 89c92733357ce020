//! The gateway's typed configuration, read once at start-up by the caller.

use std::net::SocketAddr;
use std::time::Duration;

use crate::destination::{Destination, Host};
use crate::resolver::Resolver;

/// When the gateway may send traffic straight from its own address instead of an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DirectEgress {
    /// Only while the directory lists no enabled upstream exit at all.
    #[default]
    WhenNoUpstreams,
    /// Always egress directly; upstream exits are ignored.
    Always,
    /// Never: without a matching upstream the answer is `no_exit`.
    Never,
}

/// How the candidates for a request are ordered among the healthy, matching exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Each request starts one further along the list.
    RoundRobin,
    /// Fewest relayed connections first (ties broken round-robin).
    #[default]
    LeastConnections,
    /// Lowest recent connect latency first (exits never measured go first, to learn them).
    LowestLatency,
    /// Random order, biased by each exit's `weight`.
    WeightedRandom,
}

/// Everything the gateway needs to know at start-up. [`Default`] gives production defaults.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Address of the HTTP proxy listener (forward and CONNECT).
    pub http_listen: SocketAddr,
    /// Address of the SOCKS5 listener.
    pub socks_listen: SocketAddr,
    /// Allow loopback, private, link-local and unspecified destinations (tests and benchmarks).
    pub allow_private_destinations: bool,
    /// Destination ports refused with `destination_blocked` (SMTP by default).
    pub blocked_ports: Vec<u16>,
    /// The embedding service's own listeners (its web port): never a destination, even with
    /// `allow_private_destinations`, so nobody reaches its loopback-only endpoints through the
    /// gateway. The gateway's own two listeners are always added.
    pub protected_addresses: Vec<SocketAddr>,
    /// Resolves destination names (the system's resolver by default).
    pub resolver: Resolver,
    /// Time a new client has to send a complete request head (or SOCKS5 handshake).
    pub head_timeout: Duration,
    /// Largest request head accepted; bigger heads get `431`.
    pub max_head_bytes: usize,
    /// Budget for reaching the destination, across every exit tried.
    pub connect_timeout: Duration,
    /// A tunnel (or a forward request waiting for its response) with no byte moving for this
    /// long is closed.
    pub idle_timeout: Duration,
    /// How long a kept-alive HTTP client connection may sit between two requests.
    pub keepalive_timeout: Duration,
    /// Client connections open at once, for the whole gateway (also bounded by the process's
    /// file-descriptor limit at start-up).
    pub max_connections: usize,
    /// Optional ceiling on any account's concurrent connections, below its plan's own cap.
    pub max_connections_per_account: Option<u32>,
    /// Client connections open at once from one source (an IPv4 address, or an IPv6 /64).
    pub max_connections_per_source: u32,
    /// Connections from one source that have not authenticated yet; more are closed at once.
    pub max_unauthenticated_per_source: usize,
    /// Connections not authenticated yet, for the whole gateway (at most half of
    /// `max_connections`); past it, the oldest pending connection of the source holding the
    /// most is closed to make room.
    pub max_unauthenticated: usize,
    /// How often the directory snapshot is reloaded.
    pub refresh_interval: Duration,
    /// Deadline for one directory load.
    pub refresh_timeout: Duration,
    /// How often metered usage is drained (and handed to [`crate::UsageSink::keep`]) and
    /// flushed to the usage sink: at most this much counting is lost if the process dies.
    pub flush_interval: Duration,
    /// Deadline for one usage flush.
    pub flush_timeout: Duration,
    /// When direct egress is used (see [`DirectEgress`]).
    pub direct_egress: DirectEgress,
    /// Country code reported for direct egress (lower-case); `-country-` targeting only
    /// matches direct egress when this is set and equal.
    pub direct_country: Option<String>,
    /// Ordering of candidate exits.
    pub strategy: Strategy,
    /// Exits tried for one request before giving up.
    pub max_attempts: usize,
    /// Lifetime of a sticky session whose username carries no `-ttl-`.
    pub session_ttl: Duration,
    /// Consecutive failures that open an exit's circuit breaker.
    pub breaker_failures: u32,
    /// How long an open breaker keeps the exit out before one probe is let through.
    pub breaker_cooldown: Duration,
    /// Interval of the active health probe of every upstream exit (`None`: no probing). New
    /// exits are probed as soon as they are loaded.
    pub health_interval: Option<Duration>,
    /// Where health probes ask each exit to open a tunnel, through its full handshake. A
    /// target the exit cannot reach does not count against it; a refused handshake does.
    pub health_probe_target: Destination,
    /// On shutdown, how long running connections get to finish before they are cut.
    pub drain_timeout: Duration,
    /// Move bulk tunnel traffic with `splice(2)` (Linux) instead of copying it.
    pub splice: bool,
    /// Idle forward-HTTP origin connections kept for reuse across client connections, in all
    /// (0 turns the shared pool off; a client connection still reuses its own).
    pub forward_pool_max_idle: usize,
    /// How long an idle pooled origin connection is kept.
    pub forward_pool_idle_timeout: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            http_listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            socks_listen: SocketAddr::from(([127, 0, 0, 1], 1080)),
            allow_private_destinations: false,
            blocked_ports: vec![25, 465, 587],
            protected_addresses: Vec::new(),
            resolver: Resolver::default(),
            head_timeout: Duration::from_secs(10),
            max_head_bytes: 64 * 1024,
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            keepalive_timeout: Duration::from_secs(60),
            max_connections: 100_000,
            max_connections_per_account: None,
            max_connections_per_source: 16_384,
            max_unauthenticated_per_source: 1_024,
            max_unauthenticated: 16_384,
            refresh_interval: Duration::from_secs(2),
            refresh_timeout: Duration::from_secs(10),
            flush_interval: Duration::from_millis(500),
            flush_timeout: Duration::from_secs(10),
            direct_egress: DirectEgress::default(),
            direct_country: None,
            strategy: Strategy::default(),
            max_attempts: 3,
            session_ttl: Duration::from_secs(10 * 60),
            breaker_failures: 3,
            breaker_cooldown: Duration::from_secs(10),
            health_interval: Some(Duration::from_secs(15)),
            health_probe_target: Destination {
                host: Host::Name("example.com".to_owned()),
                port: 443,
            },
            drain_timeout: Duration::from_secs(10),
            splice: true,
            forward_pool_max_idle: 4096,
            forward_pool_idle_timeout: Duration::from_secs(30),
        }
    }
}
