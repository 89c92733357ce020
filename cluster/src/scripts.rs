//! The Lua scripts, loaded by hash on first use (and again after Redis restarted and forgot
//! them).

use redis::Script;

/// Every script the cluster runs.
pub(crate) struct Scripts {
    pub(crate) take_requests: Script,
    pub(crate) lease_connections: Script,
    pub(crate) renew_connections: Script,
    pub(crate) session: Script,
    pub(crate) bind_session: Script,
}

impl Default for Scripts {
    fn default() -> Self {
        Scripts {
            take_requests: Script::new(include_str!("scripts/take_requests.lua")),
            lease_connections: Script::new(include_str!("scripts/lease_connections.lua")),
            renew_connections: Script::new(include_str!("scripts/renew_connections.lua")),
            session: Script::new(include_str!("scripts/session.lua")),
            bind_session: Script::new(include_str!("scripts/bind_session.lua")),
        }
    }
}
