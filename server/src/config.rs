//! The service's configuration: read once at start-up from flags and environment variables
//! into a typed, validated [`Config`]. A bad value is one line naming the variable and why.

use std::fmt;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use store::Keyring;
#[cfg(test)]
use store::sealing::DEVELOPMENT_SECRET;
use url::Url;

pub use self::backup::BackupSchedule;
pub use self::cluster::{ClusterSettings, Role};
pub use self::edge::EdgeSettings;
pub use self::production::PRIVATE_DESTINATIONS_ACK;
use self::production::private_destinations;
pub use self::secret_files::{SECRET_VARIABLES, secret_files};
pub use self::secrets::keyring;
use self::secrets::sealing_keys;
pub use self::web::WebSettings;

mod backup;
mod cluster;
mod edge;
mod probe;
mod production;
mod secret_files;
mod secrets;
mod usage_spool;
mod web;

/// Paystack's API, the production default for `PAYSTACK_BASE_URL`.
pub const PAYSTACK_API: &str = "https://api.paystack.co";

/// The addresses Paystack publishes for its webhook deliveries: the production value of
/// `ATLANTIC_PAYSTACK_WEBHOOK_IPS` (documented, never applied by default).
pub const PAYSTACK_WEBHOOK_IPS: &str = "52.31.139.75,52.49.173.169,52.214.14.220";

/// `atlantic serve`'s flags. Every flag can also be set by the environment variable named.
#[derive(Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// Address of the dashboard, API, WebSocket, health and metrics endpoints.
    #[arg(long, env = "ATLANTIC_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Address of the HTTP proxy (plain HTTP and CONNECT).
    #[arg(long = "http-proxy", env = "ATLANTIC_HTTP_PROXY", value_name = "ADDR")]
    pub http_proxy: Option<String>,
    /// Address of the SOCKS5 proxy.
    #[arg(
        long = "socks-proxy",
        env = "ATLANTIC_SOCKS_PROXY",
        value_name = "ADDR"
    )]
    pub socks_proxy: Option<String>,
    /// Where the dashboard's built assets are (default: `site/` next to the binary).
    #[arg(long = "site-root", env = "ATLANTIC_SITE_ROOT", value_name = "DIR")]
    pub site_root: Option<PathBuf>,
    /// What this process runs: `all` (default), `web` (dashboard, API, billing, jobs) or
    /// `gateway` (the proxy ports; `/live`, `/ready`, `/metrics` on the listen address).
    #[arg(long, env = "ATLANTIC_ROLE", value_name = "ROLE")]
    pub role: Option<String>,
}

/// Settings shared by every subcommand.
#[derive(Args, Debug, Clone, Default)]
pub struct CommonArgs {
    /// `sqlite://PATH` (created if missing) or `postgres://…`.
    #[arg(
        long = "database-url",
        env = "DATABASE_URL",
        global = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,
}

/// Which rules apply: development is forgiving and seeds demo data; production is strict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    /// Local use: the public development secret, the Paystack test double, demo data, pretty
    /// logs.
    Development,
    /// Real customers: every secret required, https only, JSON logs.
    Production,
}

/// How log lines are written (`ATLANTIC_LOG_FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line with stable fields (`timestamp`, `level`, `target`, `message`,
    /// the request's `request_id`, `method`, `path` and `account_id`): for log shippers.
    Json,
    /// Compact human-readable lines: for a terminal.
    Pretty,
}

/// A secret value: never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The validated configuration of `atlantic serve`.
#[derive(Clone, Debug)]
pub struct Config {
    /// Development or production rules.
    pub environment: Environment,
    /// `ATLANTIC_LOG_FORMAT`: JSON lines or pretty (default: JSON in production, pretty in
    /// development).
    pub log_format: LogFormat,
    /// Dashboard/API listen address.
    pub listen: SocketAddr,
    /// HTTP proxy listen address.
    pub http_proxy: SocketAddr,
    /// SOCKS5 proxy listen address.
    pub socks_proxy: SocketAddr,
    /// Database URL (SQLite or PostgreSQL).
    pub database_url: String,
    /// Where the built site is.
    pub site_root: PathBuf,
    /// `ATLANTIC_SECRET`: key material, 32 bytes or more
    /// ([`store::sealing::DEVELOPMENT_SECRET`] when unset in development).
    pub secret: Secret,
    /// The keys sealing secrets at rest, derived from `ATLANTIC_SECRET` (seals and opens) and
    /// `ATLANTIC_SECRET_PREVIOUS` (only opens).
    pub keyring: Keyring,
    /// The public https URL customers reach the dashboard at (for Paystack callbacks).
    pub public_url: Url,
    /// Paystack secret key (`sk_test_…`/`sk_live_…`); the test double's key in development.
    pub paystack_secret_key: Secret,
    /// Paystack public key.
    pub paystack_public_key: Option<String>,
    /// Paystack's API base, or `None` for the built-in test double.
    pub paystack_base_url: Option<Url>,
    /// Whether the gateway may reach loopback/private destinations (tests and benchmarks).
    pub allow_private_destinations: bool,
    /// Whether IP allowlist entries may cover loopback, private and other non-public source
    /// ranges (a gateway reached over a private network, tests).
    pub allow_private_sources: bool,
    /// Bearer token that opens `/metrics` and `/health/detailed` to non-loopback clients.
    pub metrics_token: Option<Secret>,
    /// How long in-flight requests may take to finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Reverse proxies whose `X-Forwarded-For` names the real client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Where Paystack webhooks may come from (the client IP, trusted proxies applied); empty:
    /// anywhere (the signature is checked either way).
    pub paystack_webhook_ips: Vec<ipnet::IpNet>,
    /// How often billing housekeeping runs: webhook retries, automatic renewals, grace and
    /// expiry.
    pub billing_interval: Duration,
    /// The gateway's deadlines, caps, blocked ports, health probing, exit strategy and default
    /// session lifetime (`ATLANTIC_HEAD_TIMEOUT_SECS` and the others in [`EdgeSettings`]).
    pub edge: EdgeSettings,
    /// The web listener's deadlines and caps (`ATLANTIC_WEB_HEADER_TIMEOUT_SECS` and the
    /// others in [`WebSettings`]).
    pub web: WebSettings,
    /// The process's role and, in a cluster, the shared Redis (`ATLANTIC_ROLE`,
    /// `ATLANTIC_REDIS_URL` and the others in [`ClusterSettings`]).
    pub cluster: ClusterSettings,
    /// The scheduled backup (`ATLANTIC_BACKUP_EVERY`), run by dashboard nodes; `None`: off.
    pub backup: Option<BackupSchedule>,
    /// `ATLANTIC_PROBE_URL`: where "Test my proxy" sends its request through the gateway;
    /// `None`: the built-in echo at the public URL's `/probe/echo`.
    pub probe_url: Option<Url>,
    /// `ATLANTIC_USAGE_SPOOL_DIR`: the gateway's spool of metered usage; `None`: off.
    pub usage_spool: Option<PathBuf>,
}

/// A configuration error: which variable, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ConfigError {
    /// The environment variable (and flag) at fault.
    pub var: &'static str,
    /// What is wrong and what is expected.
    pub reason: String,
}

fn err(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        reason: reason.into(),
    }
}

/// Reads the environment through a function, so tests need not touch the process environment.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, with empty values treated as unset; a secret given as `NAME_FILE`
/// answers with its file's contents once [`secret_files`] has read them.
pub fn process_env(name: &str) -> Option<String> {
    secret_files::loaded(name).or_else(|| raw_env(name))
}

/// The process environment alone, with empty values treated as unset.
fn raw_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Config {
    /// Validates flags and environment into a [`Config`].
    pub fn resolve(
        serve: &ServeArgs,
        common: &CommonArgs,
        env: Env,
    ) -> Result<Config, ConfigError> {
        let environment = environment(env)?;
        let production = environment == Environment::Production;

        let listen = listen_address(serve.listen.as_deref())?;
        let http_proxy = socket_addr(
            "ATLANTIC_HTTP_PROXY",
            serve.http_proxy.as_deref(),
            "127.0.0.1:8080",
        )?;
        let socks_proxy = socket_addr(
            "ATLANTIC_SOCKS_PROXY",
            serve.socks_proxy.as_deref(),
            "127.0.0.1:1080",
        )?;
        let database_url = database_url(common.database_url.as_deref())?;

        let (secret, keyring) = sealing_keys(env, production)?;

        let public_url = match env("ATLANTIC_PUBLIC_URL") {
            Some(raw) => Url::parse(&raw).map_err(|e| {
                err(
                    "ATLANTIC_PUBLIC_URL",
                    format!("\"{raw}\" is not a URL ({e})"),
                )
            })?,
            None if production => {
                return Err(err(
                    "ATLANTIC_PUBLIC_URL",
                    "is required in production (https://…)",
                ));
            }
            None => Url::parse(&format!("http://{listen}/"))
                .map_err(|e| err("ATLANTIC_LISTEN", e.to_string()))?,
        };
        if production && public_url.scheme() != "https" {
            return Err(err(
                "ATLANTIC_PUBLIC_URL",
                format!("\"{public_url}\" must be https in production"),
            ));
        }

        let paystack_test_mode = flag(env, "ATLANTIC_PAYSTACK_TEST_MODE")?;
        let paystack_secret_key = match env("PAYSTACK_SECRET_KEY") {
            Some(key) if production && key.starts_with("sk_test_") && !paystack_test_mode => {
                return Err(err(
                    "PAYSTACK_SECRET_KEY",
                    "is a test key (sk_test_…): production takes sk_live_… unless \
                     ATLANTIC_PAYSTACK_TEST_MODE=1 says a test deployment is meant",
                ));
            }
            Some(key) if key.starts_with("sk_") => Secret::new(key),
            Some(_) => {
                return Err(err(
                    "PAYSTACK_SECRET_KEY",
                    "must start with sk_test_ or sk_live_",
                ));
            }
            None if production => {
                return Err(err("PAYSTACK_SECRET_KEY", "is required in production"));
            }
            None => Secret::new("sk_test_atlantic_double"),
        };
        let paystack_public_key = match env("PAYSTACK_PUBLIC_KEY") {
            Some(key) if production && key.starts_with("pk_test_") && !paystack_test_mode => {
                return Err(err(
                    "PAYSTACK_PUBLIC_KEY",
                    "is a test key (pk_test_…): production takes pk_live_… unless \
                     ATLANTIC_PAYSTACK_TEST_MODE=1 says a test deployment is meant",
                ));
            }
            Some(key) if key.starts_with("pk_") => Some(key),
            Some(_) => {
                return Err(err(
                    "PAYSTACK_PUBLIC_KEY",
                    "must start with pk_test_ or pk_live_",
                ));
            }
            None if production => {
                return Err(err("PAYSTACK_PUBLIC_KEY", "is required in production"));
            }
            None => None,
        };
        let paystack_base_url = match env("PAYSTACK_BASE_URL") {
            Some(raw) => {
                Some(Url::parse(&raw).map_err(|e| {
                    err("PAYSTACK_BASE_URL", format!("\"{raw}\" is not a URL ({e})"))
                })?)
            }
            None if production => Some(
                Url::parse(PAYSTACK_API).map_err(|e| err("PAYSTACK_BASE_URL", e.to_string()))?,
            ),
            None => None,
        };

        let allow_private_destinations = private_destinations(env, production)?;
        let allow_private_sources = flag(env, "ATLANTIC_ALLOW_PRIVATE_SOURCES")?;
        let metrics_token = match env("ATLANTIC_METRICS_TOKEN") {
            Some(t) if t.len() < 16 => {
                return Err(err(
                    "ATLANTIC_METRICS_TOKEN",
                    "must be at least 16 characters",
                ));
            }
            other => other.map(Secret::new),
        };
        let shutdown_grace = match env("ATLANTIC_SHUTDOWN_GRACE_SECS") {
            Some(raw) => Duration::from_secs(raw.trim().parse::<u64>().map_err(|_| {
                err(
                    "ATLANTIC_SHUTDOWN_GRACE_SECS",
                    format!("\"{raw}\" is not a whole number"),
                )
            })?),
            None => Duration::from_secs(20),
        };
        let site_root = serve.site_root.clone().unwrap_or_else(default_site_root);
        let trusted_proxies = ip_list(env, "ATLANTIC_TRUSTED_PROXIES")?;
        let paystack_webhook_ips = ip_list(env, "ATLANTIC_PAYSTACK_WEBHOOK_IPS")?;
        let billing_interval = secs(env, "ATLANTIC_BILLING_INTERVAL_SECS", 1..=3600)?
            .unwrap_or(Duration::from_secs(30));
        let edge = EdgeSettings::from_env(env)?;
        let backup = backup::from_env(env)?;
        let probe_url = probe::probe_url(env)?;
        let usage_spool = usage_spool::spool_dir(env, &database_url)?;
        let web = WebSettings::from_env(env)?;
        let role = serve.role.clone().or_else(|| env("ATLANTIC_ROLE"));
        let cluster = ClusterSettings::from_env(
            env,
            role.as_deref(),
            &database_url,
            listen.port(),
            shutdown_grace,
        )?;

        Ok(Config {
            environment,
            log_format: log_format(env, environment)?,
            listen,
            http_proxy,
            socks_proxy,
            database_url,
            site_root,
            secret,
            keyring,
            public_url,
            paystack_secret_key,
            paystack_public_key,
            paystack_base_url,
            allow_private_destinations,
            allow_private_sources,
            metrics_token,
            shutdown_grace,
            trusted_proxies,
            paystack_webhook_ips,
            billing_interval,
            edge,
            web,
            cluster,
            backup,
            probe_url,
            usage_spool,
        })
    }
}

/// `ATLANTIC_ENV`: development unless it says production.
fn environment(env: Env) -> Result<Environment, ConfigError> {
    match env("ATLANTIC_ENV").as_deref().map(str::trim) {
        None | Some("development") | Some("dev") => Ok(Environment::Development),
        Some("production") | Some("prod") => Ok(Environment::Production),
        Some(other) => Err(err(
            "ATLANTIC_ENV",
            format!("\"{other}\" is not an environment (use development or production)"),
        )),
    }
}

/// `ATLANTIC_LOG_FORMAT`: `json` or `pretty`; unset, JSON in production and pretty otherwise.
fn log_format(env: Env, environment: Environment) -> Result<LogFormat, ConfigError> {
    match env("ATLANTIC_LOG_FORMAT").as_deref().map(str::trim) {
        None => Ok(match environment {
            Environment::Production => LogFormat::Json,
            Environment::Development => LogFormat::Pretty,
        }),
        Some("json") => Ok(LogFormat::Json),
        Some("pretty") | Some("text") => Ok(LogFormat::Pretty),
        Some(other) => Err(err(
            "ATLANTIC_LOG_FORMAT",
            format!("\"{other}\" is not a log format (use json or pretty)"),
        )),
    }
}

/// The dashboard's address from `--listen`/`ATLANTIC_LISTEN` (`raw`), or its default.
pub fn listen_address(raw: Option<&str>) -> Result<SocketAddr, ConfigError> {
    socket_addr("ATLANTIC_LISTEN", raw, "127.0.0.1:3000")
}

const SECONDS: &str = "a whole number of seconds";

/// A whole number in `range`, if `var` is set; `what` names the expected kind in the error,
/// e.g. "a whole number of bytes".
fn whole(
    env: Env,
    var: &'static str,
    range: RangeInclusive<u64>,
    what: &str,
) -> Result<Option<u64>, ConfigError> {
    let Some(raw) = env(var) else {
        return Ok(None);
    };
    match raw.trim().parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(err(
            var,
            format!(
                "\"{raw}\" is not {what} from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// A duration in whole seconds within `range`, if `var` is set.
fn secs(
    env: Env,
    var: &'static str,
    range: RangeInclusive<u64>,
) -> Result<Option<Duration>, ConfigError> {
    Ok(whole(env, var, range, SECONDS)?.map(Duration::from_secs))
}

/// A comma-separated list of IP addresses and CIDRs; unset or empty is an empty list.
fn ip_list(env: Env, var: &'static str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    let Some(raw) = env(var) else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| err(var, format!("\"{s}\" is not an IP address or CIDR")))
        })
        .collect()
}

/// The database URL from `--database-url`/`DATABASE_URL`, checked for a supported scheme.
pub fn database_url(raw: Option<&str>) -> Result<String, ConfigError> {
    let url = raw
        .unwrap_or("sqlite://data/atlantic.db")
        .trim()
        .to_string();
    let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
    match scheme {
        "sqlite" | "postgres" | "postgresql" => Ok(url),
        "" => Err(err(
            "DATABASE_URL",
            format!("\"{url}\" has no scheme (use sqlite://PATH or postgres://…)"),
        )),
        other => Err(err(
            "DATABASE_URL",
            format!("unsupported scheme \"{other}\" (use sqlite://PATH or postgres://…)"),
        )),
    }
}

fn socket_addr(
    var: &'static str,
    raw: Option<&str>,
    default: &str,
) -> Result<SocketAddr, ConfigError> {
    let raw = raw.unwrap_or(default).trim();
    raw.parse().map_err(|_| {
        err(
            var,
            format!("\"{raw}\" is not an IP:port address (for example {default})"),
        )
    })
}

fn flag(env: Env, var: &'static str) -> Result<bool, ConfigError> {
    match env(var).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("0") | Some("false") | Some("no") | Some("off") => Ok(false),
        Some("1") | Some("true") | Some("yes") | Some("on") => Ok(true),
        Some(other) => Err(err(
            var,
            format!("\"{other}\" is not a boolean (use 1/0, true/false)"),
        )),
    }
}

/// `site/` next to the running binary, where `cargo xtask build` puts it.
fn default_site_root() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("site")))
        .unwrap_or_else(|| PathBuf::from("site"))
}

#[cfg(test)]
mod tests;
