//! The Servers page's data: exits grouped by pool and country with their health, recent
//! latency, success rate, open connections and last check. Customers see the enabled exits
//! by name and place; administrators also see upstream addresses (never credentials) and
//! disabled exits, and manage them with form posts (`/admin/exits…`).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One exit as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerRow {
    /// The exit's id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The upstream without credentials (administrators only).
    pub upstream: Option<String>,
    /// City tag.
    pub city: Option<String>,
    /// Enabled in the directory.
    pub enabled: bool,
    /// `healthy`, `unhealthy`, `unknown` (not checked yet) or `disabled`.
    pub health: String,
    /// Why the last check failed (administrators only).
    pub last_error: Option<String>,
    /// Recent connect latency.
    pub latency_ms: Option<i64>,
    /// Share of connects and probes that worked, when there were any.
    pub success_rate: Option<f64>,
    /// Connections relayed through it now.
    pub active_connections: u32,
    /// Last check, in the viewer's zone.
    pub last_check: Option<String>,
}

/// Exits of one country within a pool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CountryGroup {
    /// ISO code, lower case.
    pub country: String,
    /// Its exits.
    pub exits: Vec<ServerRow>,
}

/// Exits of one pool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoolGroup {
    /// The pool.
    pub pool: String,
    /// By country, alphabetically.
    pub countries: Vec<CountryGroup>,
}

/// Everything the Servers page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServersView {
    /// The viewer may manage exits.
    pub admin: bool,
    /// By pool, alphabetically.
    pub pools: Vec<PoolGroup>,
    /// Healthy enabled exits.
    pub healthy: usize,
    /// Enabled exits.
    pub enabled: usize,
}

/// The exits the viewer may see.
#[server(endpoint = "servers")]
pub async fn servers_overview() -> Result<ServersView, ServerFnError> {
    use std::collections::BTreeMap;

    use crate::api::{access, zone};
    let (db, account) = access::signed_in()?;
    let admin = crate::api::session::ssr::viewer().is_some_and(|v| v.admin);
    let exits = store::exits::list(&db)
        .await
        .map_err(access::internal("the server list is"))?;
    let live = use_context::<ssr::ExitTelemetry>()
        .map(|t| (t.0)())
        .unwrap_or_default();
    let tz = zone::of(&db, account).await;
    let mut pools: BTreeMap<String, BTreeMap<String, Vec<ServerRow>>> = BTreeMap::new();
    let (mut healthy, mut enabled) = (0, 0);
    for e in exits.into_iter().filter(|e| admin || e.enabled) {
        let now = live.iter().find(|l| l.id == e.id.get());
        // The engine's view is fresher; the table's survives restarts.
        let health = if !e.enabled {
            "disabled".to_owned()
        } else if let Some(l) = now.filter(|l| l.checked) {
            if l.healthy { "healthy" } else { "unhealthy" }.to_owned()
        } else {
            e.health.as_str().to_owned()
        };
        if e.enabled {
            enabled += 1;
            healthy += usize::from(health == "healthy");
        }
        let (ok, failed) = match now {
            Some(l) if l.successes + l.failures > 0 => (l.successes, l.failures),
            _ => (
                u64::try_from(e.success_count).unwrap_or(0),
                u64::try_from(e.failure_count).unwrap_or(0),
            ),
        };
        let row = ServerRow {
            id: e.id.get(),
            upstream: admin.then(|| e.display_url()),
            name: e.name.clone(),
            city: e.city.clone(),
            enabled: e.enabled,
            health,
            last_error: if admin { e.last_error.clone() } else { None },
            latency_ms: now.and_then(|l| l.latency_ms).or(e.last_latency_ms),
            success_rate: (ok + failed > 0).then(|| ok as f64 / (ok + failed) as f64),
            active_connections: now.map_or(0, |l| l.active_connections),
            last_check: e.last_check_at.map(|ms| zone::date_time(tz, ms)),
        };
        pools
            .entry(e.pool)
            .or_default()
            .entry(e.country)
            .or_default()
            .push(row);
    }
    Ok(ServersView {
        admin,
        pools: pools
            .into_iter()
            .map(|(pool, countries)| PoolGroup {
                pool,
                countries: countries
                    .into_iter()
                    .map(|(country, exits)| CountryGroup { country, exits })
                    .collect(),
            })
            .collect(),
        healthy,
        enabled,
    })
}

/// Server side: how the server hands the page the gateway's live view of its exits.
#[cfg(feature = "ssr")]
pub mod ssr {
    /// One exit as the running gateway sees it.
    #[derive(Clone, Debug, Default)]
    pub struct ExitLive {
        /// Exit id.
        pub id: i64,
        /// Whether anything (a connect or a probe) went through it since start.
        pub checked: bool,
        /// Enabled and its breaker closed.
        pub healthy: bool,
        /// Connections through it now.
        pub active_connections: u32,
        /// Recent connect latency.
        pub latency_ms: Option<i64>,
        /// Successful connects and probes since start.
        pub successes: u64,
        /// Failed connects and probes since start.
        pub failures: u64,
    }

    /// Reads the gateway's exits now.
    #[derive(Clone)]
    pub struct ExitTelemetry(pub std::sync::Arc<dyn Fn() -> Vec<ExitLive> + Send + Sync>);
}
