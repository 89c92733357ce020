//! The engine's context: everything one gateway's tasks share (configuration, destination
//! policy, accounts, exits, meter, fairness budgets, origin pool, shutdown tokens). Every other
//! engine module reads what it needs from here; this module only holds and builds them, so the
//! modules it holds never depend back on it.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::account_state::AccountStates;
use crate::catalog::Catalog;
use crate::cluster::Cluster;
use crate::config::GatewayConfig;
use crate::exits::Exits;
use crate::meter::{Meter, Traffic};
use crate::origins::OriginPool;
use crate::policy::DestinationPolicy;
use crate::sources::{SourceLimits, Unauthenticated};
use crate::stats::Sampled;

/// State shared by every task of one gateway.
pub(crate) struct Engine {
    pub(crate) config: GatewayConfig,
    pub(crate) policy: DestinationPolicy,
    pub(crate) catalog: Catalog,
    /// Every account's run-time state (limits, quota, sessions, connections), by account id.
    pub(crate) accounts: AccountStates,
    /// State shared with the cluster's other nodes, when the gateway is one of several (set
    /// once, before it serves).
    pub(crate) cluster: OnceLock<Cluster>,
    pub(crate) exits: Exits,
    pub(crate) meter: Meter,
    pub(crate) traffic: Arc<Traffic>,
    /// Client connections open now.
    pub(crate) active: AtomicU64,
    pub(crate) sampled: Mutex<Sampled>,
    pub(crate) sources: Arc<SourceLimits>,
    /// Connections not authenticated yet, with their own smaller budget.
    pub(crate) unauthenticated: Arc<Unauthenticated>,
    /// Global connection cap.
    pub(crate) slots: Arc<Semaphore>,
    /// Idle forward-HTTP origin connections.
    pub(crate) origins: OriginPool,
    /// Asks the refresh loop for a directory load now.
    pub(crate) refresh: Notify,
    /// Told when the directory brought new exits, so they are probed without waiting.
    pub(crate) probe_new: Notify,
    /// Cancelled when shutdown starts: kept-alive connections close after their request.
    pub(crate) drain: CancellationToken,
    /// Cancelled when the drain deadline passes: everything still running is cut.
    pub(crate) force: CancellationToken,
}

impl Engine {
    /// Builds the context for `slots` concurrent client connections; `listeners` are the
    /// gateway's own addresses, which the destination policy refuses like the protected ones.
    pub(crate) fn new(config: GatewayConfig, slots: usize, listeners: &[SocketAddr]) -> Engine {
        let mut own = config.protected_addresses.clone();
        own.extend_from_slice(listeners);
        Engine {
            policy: DestinationPolicy {
                allow_private: config.allow_private_destinations,
                blocked_ports: config.blocked_ports.clone(),
                own,
                resolver: config.resolver.clone(),
            },
            catalog: Catalog::default(),
            accounts: AccountStates::default(),
            cluster: OnceLock::new(),
            exits: Exits::new(&config),
            meter: Meter::default(),
            traffic: Arc::new(Traffic::default()),
            active: AtomicU64::new(0),
            sampled: Mutex::new(Sampled::default()),
            sources: Arc::new(SourceLimits::new(config.max_connections_per_source)),
            // never more than half the connection slots, so pending strangers can never keep
            // the listener from accepting
            unauthenticated: Arc::new(Unauthenticated::new(
                config.max_unauthenticated_per_source,
                config.max_unauthenticated.min(slots / 2),
            )),
            slots: Arc::new(Semaphore::new(slots)),
            origins: OriginPool::new(
                config.forward_pool_max_idle,
                config.forward_pool_idle_timeout,
            ),
            refresh: Notify::new(),
            probe_new: Notify::new(),
            drain: CancellationToken::new(),
            force: CancellationToken::new(),
            config,
        }
    }
}
