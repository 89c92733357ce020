//! AtlanticProxy gateway engine: HTTP (forward and CONNECT) and SOCKS5 listeners that
//! authenticate customers from an in-memory copy of the [`Directory`], apply their plan's
//! limits, pick an exit (direct egress or an upstream proxy), relay bytes, meter them into a
//! [`UsageSink`] and report live statistics.
//!
//! The crate is a pure tokio library: it knows nothing of HTTP frameworks or databases. The
//! `server` crate implements [`Directory`] and [`UsageSink`] over the store and drives
//! [`Gateway::run`].
//!
//! One gateway keeps its limits in its own memory. Several gateways in front of one database
//! share them through a [`SharedState`] ([`Gateway::with_shared_state`]; the `cluster` crate
//! implements it over Redis): the requests-per-second buckets, connection caps, quota totals
//! and sticky sessions then hold across the cluster, and a gateway whose shared state fails or
//! is slow serves on its local limits until it is back.
//!
//! Until the first directory snapshot has loaded, the gateway cannot tell a customer from a
//! stranger: HTTP clients get `503 Service Unavailable` (`Proxy-Status: …
//! error=proxy_internal_error; details="gateway starting: credentials not loaded yet"`) and
//! SOCKS5 clients a failed sub-negotiation. [`Gateway::run`] tries to load that snapshot
//! before it starts accepting, so this only shows while the directory is unreachable.

mod account_state;
mod admission;
mod buffered;
mod catalog;
mod clock;
mod cluster;
mod config;
mod connection;
mod destination;
mod directory;
mod engine;
mod error;
mod exits;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod gateway;
mod http;
mod listener;
mod live;
mod locks;
mod meter;
mod opened;
mod origins;
mod policy;
mod relay;
mod resolver;
mod sessions;
mod shared;
mod socks5;
mod sources;
mod stats;
mod tally;
mod telemetry;
pub mod username;

pub use config::{DirectEgress, GatewayConfig, Strategy};
pub use destination::{Destination, Host};
pub use directory::{
    AccountEntry, BoxError, Directory, DirectorySnapshot, ExitEntry, ExitKind, PlanLimits,
};
pub use error::{ErrorCode, ProxyError, Side};
pub use gateway::{Gateway, GatewayHandle};
pub use live::LiveStats;
pub use meter::{UsageBatch, UsageDrift, UsageRecord, UsageSink};
pub use resolver::{Lookup, Resolve, Resolver, SystemResolver};
pub use sessions::SessionStats;
pub use shared::{BytesDelta, Grant, SessionBinding, SharedState};
pub use stats::{
    AccountDrift, AccountStats, ExitStats, Reconciliation, StatsSnapshot, TrafficStats,
};
pub use username::{ProxyUsername, Targeting, UsernameError};
