//! What the gateway reads from the outside world (accounts, plans, exits) and the trait the
//! `server` crate implements to provide it.

use std::future::Future;
use std::pin::Pin;

/// Error type of the traits the embedding service implements.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// One customer account as the gateway needs it. `Debug` leaves out the password.
#[derive(Clone)]
pub struct AccountEntry {
    /// Database id.
    pub account_id: i64,
    /// Generated proxy username: lower-case, no `-`.
    pub username: String,
    /// The proxy password (compared in constant time).
    pub password: String,
    /// Source networks that may use the account without a password.
    pub allowlist: Vec<ipnet::IpNet>,
    /// The active plan; `None` means no active plan, answered with `quota_exceeded`.
    pub plan: Option<PlanLimits>,
}

impl std::fmt::Debug for AccountEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountEntry")
            .field("account_id", &self.account_id)
            .field("username", &self.username)
            .field("allowlist", &self.allowlist)
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

/// The limits of an account's active plan, and its usage so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanLimits {
    /// Requests (HTTP requests, CONNECTs, SOCKS5 connects) per second.
    pub requests_per_second: u32,
    /// Client connections open at once.
    pub max_connections: u32,
    /// Bytes (up + down) per period; `None` is unlimited.
    pub bandwidth_bytes: Option<u64>,
    /// Bytes (up + down) already flushed to the database in the current period.
    pub bytes_used: u64,
    /// Start of the current period; a change means the quota was reset.
    pub period_start_ms: i64,
}

/// Protocol an upstream exit speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitKind {
    /// An HTTP proxy reached with `CONNECT`.
    Http,
    /// A SOCKS5 proxy (username/password auth when the URL has credentials).
    Socks5,
}

/// One upstream exit. `Debug` shows where it is, not how we log in to it.
#[derive(Clone, PartialEq, Eq)]
pub struct ExitEntry {
    /// Database id (never 0: 0 stands for direct egress in usage records).
    pub id: i64,
    /// `http://[user:pass@]host:port` or `socks5://[user:pass@]host:port`.
    pub url: url::Url,
    /// Protocol spoken by the upstream.
    pub kind: ExitKind,
    /// ISO 3166-1 alpha-2 country of the exit's address, if known.
    pub country: Option<String>,
    /// City of the exit's address, if known.
    pub city: Option<String>,
    /// Pool name (reported in statistics).
    pub pool: String,
    /// Disabled exits are never chosen.
    pub enabled: bool,
    /// Relative weight for the weighted-random strategy.
    pub weight: u32,
    /// Send the destination's host name to this upstream, to resolve it there. Off (the safe
    /// default), the gateway resolves the name itself, refuses non-public results and sends
    /// the checked address, so the upstream cannot be steered at its own network (DNS
    /// rebinding included). On, the name is still resolved and checked here first, but the
    /// upstream's own answer is what it connects to.
    pub forward_names: bool,
}

impl std::fmt::Debug for ExitEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = &self.url;
        f.debug_struct("ExitEntry")
            .field("id", &self.id)
            .field(
                "url",
                &format_args!(
                    "{}://{}:{}",
                    url.scheme(),
                    url.host_str().unwrap_or(""),
                    url.port_or_known_default().unwrap_or(0)
                ),
            )
            .field("kind", &self.kind)
            .field("country", &self.country)
            .field("city", &self.city)
            .field("pool", &self.pool)
            .field("enabled", &self.enabled)
            .field("weight", &self.weight)
            .field("forward_names", &self.forward_names)
            .finish()
    }
}

/// Everything the gateway caches, loaded at once.
#[derive(Debug, Clone, Default)]
pub struct DirectorySnapshot {
    /// All accounts that may use the proxy.
    pub accounts: Vec<AccountEntry>,
    /// All upstream exits, enabled or not.
    pub exits: Vec<ExitEntry>,
}

/// Source of accounts and exits, read every `refresh_interval` (never per connection).
pub trait Directory: Send + Sync + 'static {
    /// Loads a full, consistent snapshot.
    fn snapshot(&self) -> impl Future<Output = Result<DirectorySnapshot, BoxError>> + Send;
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Object-safe form of [`Directory`], so the gateway itself is not generic.
pub(crate) trait DynDirectory: Send + Sync + 'static {
    fn load(&self) -> BoxFuture<'_, Result<DirectorySnapshot, BoxError>>;
}

impl<D: Directory> DynDirectory for D {
    fn load(&self) -> BoxFuture<'_, Result<DirectorySnapshot, BoxError>> {
        Box::pin(self.snapshot())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_shows_no_password() {
        let snapshot = DirectorySnapshot {
            accounts: vec![AccountEntry {
                account_id: 1,
                username: "ada".into(),
                password: "proxy-pa55word".into(),
                allowlist: Vec::new(),
                plan: None,
            }],
            exits: vec![ExitEntry {
                id: 1,
                url: url::Url::parse("socks5://upstream:exit-pa55word@203.0.113.7:1080")
                    .expect("url"),
                kind: ExitKind::Socks5,
                country: None,
                city: None,
                pool: "default".into(),
                enabled: true,
                weight: 1,
                forward_names: false,
            }],
        };
        let shown = format!("{snapshot:?}");
        assert!(
            shown.contains("ada") && shown.contains("203.0.113.7:1080"),
            "{shown}"
        );
        assert!(!shown.contains("pa55word"), "{shown}");

        // What the gateway builds from them: the catalog's accounts and the exits' upstreams.
        let catalog = crate::catalog::Catalog::default();
        let states = crate::account_state::AccountStates::default();
        catalog.install(
            snapshot.accounts,
            &std::collections::HashMap::new(),
            &states,
        );
        let accounts = catalog.current().expect("installed");
        let ip = "192.0.2.1".parse().expect("ip");
        let (account, _) = accounts
            .authenticate(Some(("ada", "proxy-pa55word")), ip)
            .expect("authenticates");
        let exit = crate::exits::tests::exit(1, 1);
        let shown = format!("{account:?} {exit:?}");
        assert!(shown.contains("127.0.0.1"), "{shown}");
        assert!(
            !shown.contains("pa55word") && !shown.contains("p:w"),
            "{shown}"
        );
    }
}
