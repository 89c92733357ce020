//! The gateway's edge settings from the environment: client and connect deadlines, the request
//! head cap, the keep-alive wait, connection caps (unauthenticated ones too), blocked
//! destination ports, health probing, the exit strategy and the default sticky-session
//! lifetime. Unset means the engine's own default.

use std::time::Duration;

use proxy::{Destination, GatewayConfig, Strategy};

use super::{ConfigError, Env, SECONDS, err, secs, whole};

/// The gateway's edge settings, validated; [`Default`] is the engine's
/// ([`GatewayConfig::default`]).
#[derive(Clone, Debug, PartialEq)]
pub struct EdgeSettings {
    /// `ATLANTIC_HEAD_TIMEOUT_SECS`: time a new client has to send a complete request head or
    /// SOCKS5 handshake.
    pub head_timeout: Duration,
    /// `ATLANTIC_MAX_HEAD_BYTES`: largest request head accepted (bigger ones get `431`).
    pub max_head_bytes: usize,
    /// `ATLANTIC_CONNECT_TIMEOUT_SECS`: budget for reaching a destination, across every exit
    /// tried.
    pub connect_timeout: Duration,
    /// `ATLANTIC_IDLE_TIMEOUT_SECS`: a tunnel, or a forward request waiting for its response,
    /// with no byte moving for this long is closed.
    pub idle_timeout: Duration,
    /// `ATLANTIC_KEEPALIVE_TIMEOUT_SECS`: how long a kept-alive HTTP client connection may
    /// wait between two requests.
    pub keepalive_timeout: Duration,
    /// `ATLANTIC_MAX_CONNECTIONS`: client connections open at once, for the whole gateway.
    pub max_connections: usize,
    /// `ATLANTIC_MAX_CONNECTIONS_PER_ACCOUNT`: a ceiling on any one account's connections open
    /// at once, below its plan's own cap (`None`: the plan's cap alone).
    pub max_connections_per_account: Option<u32>,
    /// `ATLANTIC_MAX_CONNECTIONS_PER_SOURCE`: client connections open at once from one source
    /// (an IPv4 address, or an IPv6 /64).
    pub max_connections_per_source: u32,
    /// `ATLANTIC_MAX_UNAUTHENTICATED_PER_SOURCE`: connections from one source that have not
    /// authenticated yet; more are closed at once.
    pub max_unauthenticated_per_source: usize,
    /// `ATLANTIC_MAX_UNAUTHENTICATED`: connections not authenticated yet, for the whole
    /// gateway (at most half of the connection cap); past it, the largest holder's oldest is
    /// shed.
    pub max_unauthenticated: usize,
    /// `ATLANTIC_BLOCKED_PORTS`: destination ports refused with `destination_blocked`.
    pub blocked_ports: Vec<u16>,
    /// `ATLANTIC_HEALTH_INTERVAL_SECS`: interval of the active exit health probe (`None`: no
    /// active probing at all; breakers still learn from traffic).
    pub health_interval: Option<Duration>,
    /// `ATLANTIC_HEALTH_PROBE_TARGET`: where health probes ask each exit to open a tunnel.
    pub health_probe_target: Destination,
    /// `ATLANTIC_EXIT_STRATEGY`: how candidate exits are ordered.
    pub strategy: Strategy,
    /// `ATLANTIC_SESSION_TTL_SECS`: lifetime of a sticky session whose username has no `-ttl-`.
    pub session_ttl: Duration,
}

impl Default for EdgeSettings {
    fn default() -> Self {
        let d = GatewayConfig::default();
        EdgeSettings {
            head_timeout: d.head_timeout,
            max_head_bytes: d.max_head_bytes,
            connect_timeout: d.connect_timeout,
            idle_timeout: d.idle_timeout,
            keepalive_timeout: d.keepalive_timeout,
            max_connections: d.max_connections,
            max_connections_per_account: d.max_connections_per_account,
            max_connections_per_source: d.max_connections_per_source,
            max_unauthenticated_per_source: d.max_unauthenticated_per_source,
            max_unauthenticated: d.max_unauthenticated,
            blocked_ports: d.blocked_ports,
            health_interval: d.health_interval,
            health_probe_target: d.health_probe_target,
            strategy: d.strategy,
            session_ttl: d.session_ttl,
        }
    }
}

/// A day: the longest sticky session a username may ask for (`-ttl-1440`).
const DAY_SECS: u64 = 24 * 60 * 60;

const BYTES: &str = "a whole number of bytes";
const COUNT: &str = "a whole number";

impl EdgeSettings {
    /// Reads and checks every edge variable; an unset one keeps its default.
    pub(super) fn from_env(env: Env) -> Result<EdgeSettings, ConfigError> {
        let d = EdgeSettings::default();
        let health = whole(env, "ATLANTIC_HEALTH_INTERVAL_SECS", 0..=3600, SECONDS)?;
        let health_interval = match health {
            Some(0) => None,
            Some(secs) => Some(Duration::from_secs(secs)),
            None => d.health_interval,
        };
        Ok(EdgeSettings {
            head_timeout: secs(env, "ATLANTIC_HEAD_TIMEOUT_SECS", 1..=300)?
                .unwrap_or(d.head_timeout),
            max_head_bytes: whole(env, "ATLANTIC_MAX_HEAD_BYTES", 1024..=1024 * 1024, BYTES)?
                .map_or(d.max_head_bytes, to_usize),
            connect_timeout: secs(env, "ATLANTIC_CONNECT_TIMEOUT_SECS", 1..=120)?
                .unwrap_or(d.connect_timeout),
            idle_timeout: secs(env, "ATLANTIC_IDLE_TIMEOUT_SECS", 1..=DAY_SECS)?
                .unwrap_or(d.idle_timeout),
            keepalive_timeout: secs(env, "ATLANTIC_KEEPALIVE_TIMEOUT_SECS", 1..=3600)?
                .unwrap_or(d.keepalive_timeout),
            max_connections: whole(env, "ATLANTIC_MAX_CONNECTIONS", 1..=1_000_000, COUNT)?
                .map_or(d.max_connections, to_usize),
            max_connections_per_account: whole(
                env,
                "ATLANTIC_MAX_CONNECTIONS_PER_ACCOUNT",
                1..=1_000_000,
                COUNT,
            )?
            .map(to_u32)
            .or(d.max_connections_per_account),
            max_connections_per_source: whole(
                env,
                "ATLANTIC_MAX_CONNECTIONS_PER_SOURCE",
                1..=1_000_000,
                COUNT,
            )?
            .map_or(d.max_connections_per_source, to_u32),
            max_unauthenticated_per_source: whole(
                env,
                "ATLANTIC_MAX_UNAUTHENTICATED_PER_SOURCE",
                1..=1_000_000,
                COUNT,
            )?
            .map_or(d.max_unauthenticated_per_source, to_usize),
            max_unauthenticated: whole(env, "ATLANTIC_MAX_UNAUTHENTICATED", 1..=1_000_000, COUNT)?
                .map_or(d.max_unauthenticated, to_usize),
            blocked_ports: ports(env, "ATLANTIC_BLOCKED_PORTS")?.unwrap_or(d.blocked_ports),
            health_interval,
            health_probe_target: target(env, "ATLANTIC_HEALTH_PROBE_TARGET")?
                .unwrap_or(d.health_probe_target),
            strategy: strategy(env, "ATLANTIC_EXIT_STRATEGY")?.unwrap_or(d.strategy),
            session_ttl: secs(env, "ATLANTIC_SESSION_TTL_SECS", 1..=DAY_SECS)?
                .unwrap_or(d.session_ttl),
        })
    }

    /// `base` with these settings in place of its own.
    pub fn apply(&self, base: GatewayConfig) -> GatewayConfig {
        GatewayConfig {
            head_timeout: self.head_timeout,
            max_head_bytes: self.max_head_bytes,
            connect_timeout: self.connect_timeout,
            idle_timeout: self.idle_timeout,
            keepalive_timeout: self.keepalive_timeout,
            max_connections: self.max_connections,
            max_connections_per_account: self.max_connections_per_account,
            max_connections_per_source: self.max_connections_per_source,
            max_unauthenticated_per_source: self.max_unauthenticated_per_source,
            max_unauthenticated: self.max_unauthenticated,
            blocked_ports: self.blocked_ports.clone(),
            health_interval: self.health_interval,
            health_probe_target: self.health_probe_target.clone(),
            strategy: self.strategy,
            session_ttl: self.session_ttl,
            ..base
        }
    }
}

// Both only see values already checked against ranges that fit.
fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn to_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A comma-separated list of ports (1–65535), sorted and without repeats, or `none` for an
/// empty list, if `var` is set.
fn ports(env: Env, var: &'static str) -> Result<Option<Vec<u16>>, ConfigError> {
    let Some(raw) = env(var) else {
        return Ok(None);
    };
    if raw.trim().eq_ignore_ascii_case("none") {
        return Ok(Some(Vec::new()));
    }
    let mut ports = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.parse::<u16>() {
            Ok(port) if port != 0 => Ok(port),
            _ => Err(err(var, format!("\"{s}\" is not a port from 1 to 65535"))),
        })
        .collect::<Result<Vec<u16>, ConfigError>>()?;
    if ports.is_empty() {
        return Err(err(
            var,
            format!("\"{raw}\" lists no port (use none to block no port)"),
        ));
    }
    ports.sort_unstable();
    ports.dedup();
    Ok(Some(ports))
}

/// `host:port` (a DNS name, an IPv4 address or a bracketed IPv6 address, and a port from 1 to
/// 65535), if `var` is set.
fn target(env: Env, var: &'static str) -> Result<Option<Destination>, ConfigError> {
    let Some(raw) = env(var) else {
        return Ok(None);
    };
    let s = raw.trim();
    // `2001:db8::1:443` would split at its last colon; only the bracketed form is unambiguous.
    let bare_v6 = !s.starts_with('[') && s.matches(':').count() > 1;
    match Destination::parse_authority(s, None) {
        Some(dest) if !bare_v6 => Ok(Some(dest)),
        _ => Err(err(
            var,
            format!(
                "\"{raw}\" is not host:port (a name or IP address and a port from 1 to 65535; \
                 IPv6 in brackets, e.g. [2001:db8::1]:443)"
            ),
        )),
    }
}

/// One of the engine's exit strategies, by its snake_case name, if `var` is set.
fn strategy(env: Env, var: &'static str) -> Result<Option<Strategy>, ConfigError> {
    let Some(raw) = env(var) else {
        return Ok(None);
    };
    match raw.trim().to_ascii_lowercase().as_str() {
        "least_connections" => Ok(Some(Strategy::LeastConnections)),
        "round_robin" => Ok(Some(Strategy::RoundRobin)),
        "lowest_latency" => Ok(Some(Strategy::LowestLatency)),
        "weighted_random" => Ok(Some(Strategy::WeightedRandom)),
        _ => Err(err(
            var,
            format!(
                "\"{raw}\" is not a strategy (use least_connections, round_robin, \
                 lowest_latency or weighted_random)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::resolve;

    fn edge(vars: &[(&str, &str)]) -> EdgeSettings {
        resolve(vars).expect("valid edge settings").edge
    }

    #[test]
    fn unset_edge_settings_are_the_documented_engine_defaults() {
        let e = edge(&[]);
        assert_eq!(e, EdgeSettings::default());
        assert_eq!(e.head_timeout, Duration::from_secs(10));
        assert_eq!(e.max_head_bytes, 64 * 1024);
        assert_eq!(e.connect_timeout, Duration::from_secs(10));
        assert_eq!(e.idle_timeout, Duration::from_secs(300));
        assert_eq!(e.keepalive_timeout, Duration::from_secs(60));
        assert_eq!(e.max_connections, 100_000);
        assert_eq!(e.max_connections_per_account, None, "the plan's cap alone");
        assert_eq!(e.max_connections_per_source, 16_384);
        assert_eq!(e.max_unauthenticated_per_source, 1_024);
        assert_eq!(e.max_unauthenticated, 16_384);
        assert_eq!(e.blocked_ports, [25, 465, 587]);
        assert_eq!(e.health_interval, Some(Duration::from_secs(15)));
        assert_eq!(e.health_probe_target.to_string(), "example.com:443");
        assert_eq!(e.strategy, Strategy::LeastConnections);
        assert_eq!(e.session_ttl, Duration::from_secs(600));
        let applied = e.apply(GatewayConfig::default());
        let engine = GatewayConfig::default();
        assert_eq!(applied.head_timeout, engine.head_timeout);
        assert_eq!(applied.blocked_ports, engine.blocked_ports);
        assert_eq!(applied.health_interval, engine.health_interval);
        assert_eq!(applied.health_probe_target, engine.health_probe_target);
    }

    #[test]
    fn each_edge_setting_reaches_the_gateway_config() {
        let e = edge(&[
            ("ATLANTIC_HEAD_TIMEOUT_SECS", "3"),
            ("ATLANTIC_MAX_HEAD_BYTES", "16384"),
            ("ATLANTIC_CONNECT_TIMEOUT_SECS", "4"),
            ("ATLANTIC_IDLE_TIMEOUT_SECS", "90"),
            ("ATLANTIC_KEEPALIVE_TIMEOUT_SECS", "15"),
            ("ATLANTIC_MAX_CONNECTIONS", "5000"),
            ("ATLANTIC_MAX_CONNECTIONS_PER_ACCOUNT", "200"),
            ("ATLANTIC_MAX_CONNECTIONS_PER_SOURCE", "64"),
            ("ATLANTIC_MAX_UNAUTHENTICATED_PER_SOURCE", "16"),
            ("ATLANTIC_MAX_UNAUTHENTICATED", "512"),
            ("ATLANTIC_BLOCKED_PORTS", " 587, 25,2525 ,25"),
            ("ATLANTIC_HEALTH_INTERVAL_SECS", "60"),
            ("ATLANTIC_HEALTH_PROBE_TARGET", "[2001:db8::1]:8443"),
            ("ATLANTIC_EXIT_STRATEGY", "Round_Robin"),
            ("ATLANTIC_SESSION_TTL_SECS", "45"),
        ]);
        let base = GatewayConfig {
            drain_timeout: Duration::from_secs(7),
            ..GatewayConfig::default()
        };
        let g = e.apply(base);
        assert_eq!(g.head_timeout, Duration::from_secs(3));
        assert_eq!(g.max_head_bytes, 16_384);
        assert_eq!(g.connect_timeout, Duration::from_secs(4));
        assert_eq!(g.idle_timeout, Duration::from_secs(90));
        assert_eq!(g.keepalive_timeout, Duration::from_secs(15));
        assert_eq!(g.max_connections, 5000);
        assert_eq!(g.max_connections_per_account, Some(200));
        assert_eq!(g.max_connections_per_source, 64);
        assert_eq!(g.max_unauthenticated_per_source, 16);
        assert_eq!(g.max_unauthenticated, 512);
        assert_eq!(g.blocked_ports, [25, 587, 2525], "sorted, without repeats");
        assert_eq!(g.health_interval, Some(Duration::from_secs(60)));
        assert_eq!(g.health_probe_target.to_string(), "[2001:db8::1]:8443");
        assert_eq!(g.strategy, Strategy::RoundRobin);
        assert_eq!(g.session_ttl, Duration::from_secs(45));
        assert_eq!(
            g.drain_timeout,
            Duration::from_secs(7),
            "the rest is base's"
        );
    }

    #[test]
    fn edge_bounds_are_inclusive_and_special_values_are_understood() {
        let low = edge(&[
            ("ATLANTIC_HEAD_TIMEOUT_SECS", "1"),
            ("ATLANTIC_MAX_HEAD_BYTES", "1024"),
            ("ATLANTIC_CONNECT_TIMEOUT_SECS", "1"),
            ("ATLANTIC_IDLE_TIMEOUT_SECS", "1"),
            ("ATLANTIC_KEEPALIVE_TIMEOUT_SECS", "1"),
            ("ATLANTIC_MAX_CONNECTIONS", "1"),
            ("ATLANTIC_MAX_CONNECTIONS_PER_ACCOUNT", "1"),
            ("ATLANTIC_MAX_CONNECTIONS_PER_SOURCE", "1"),
            ("ATLANTIC_BLOCKED_PORTS", "none"),
            ("ATLANTIC_HEALTH_INTERVAL_SECS", "0"),
            ("ATLANTIC_HEALTH_PROBE_TARGET", "10.0.0.1:1"),
            ("ATLANTIC_SESSION_TTL_SECS", "1"),
        ]);
        assert_eq!(low.max_head_bytes, 1024);
        assert_eq!(low.keepalive_timeout, Duration::from_secs(1));
        assert_eq!(low.max_connections_per_account, Some(1));
        assert!(low.blocked_ports.is_empty(), "none blocks no port");
        assert_eq!(low.health_interval, None, "0 turns probing off");
        assert_eq!(low.health_probe_target.to_string(), "10.0.0.1:1");
        let high = edge(&[
            ("ATLANTIC_HEAD_TIMEOUT_SECS", "300"),
            ("ATLANTIC_MAX_HEAD_BYTES", "1048576"),
            ("ATLANTIC_CONNECT_TIMEOUT_SECS", "120"),
            ("ATLANTIC_IDLE_TIMEOUT_SECS", "86400"),
            ("ATLANTIC_KEEPALIVE_TIMEOUT_SECS", "3600"),
            ("ATLANTIC_MAX_CONNECTIONS", "1000000"),
            ("ATLANTIC_MAX_CONNECTIONS_PER_ACCOUNT", "1000000"),
            ("ATLANTIC_MAX_CONNECTIONS_PER_SOURCE", "1000000"),
            ("ATLANTIC_BLOCKED_PORTS", "65535"),
            ("ATLANTIC_HEALTH_INTERVAL_SECS", "3600"),
            ("ATLANTIC_HEALTH_PROBE_TARGET", "Probe.Example.NET:65535"),
            ("ATLANTIC_SESSION_TTL_SECS", "86400"),
        ]);
        assert_eq!(high.head_timeout, Duration::from_secs(300));
        assert_eq!(high.max_head_bytes, 1 << 20);
        assert_eq!(high.max_connections_per_source, 1_000_000);
        assert_eq!(high.keepalive_timeout, Duration::from_secs(3600));
        assert_eq!(high.max_connections_per_account, Some(1_000_000));
        assert_eq!(high.blocked_ports, [65535]);
        assert_eq!(high.health_interval, Some(Duration::from_secs(3600)));
        assert_eq!(
            high.health_probe_target.to_string(),
            "probe.example.net:65535"
        );
        assert_eq!(high.session_ttl, Duration::from_secs(86_400));
    }

    #[test]
    fn bad_edge_values_are_one_line_naming_the_variable_and_the_expectation() {
        let cases: &[(&str, &str, &str)] = &[
            ("ATLANTIC_HEAD_TIMEOUT_SECS", "0", "from 1 to 300"),
            ("ATLANTIC_HEAD_TIMEOUT_SECS", "301", "from 1 to 300"),
            ("ATLANTIC_HEAD_TIMEOUT_SECS", "10s", "seconds"),
            (
                "ATLANTIC_MAX_HEAD_BYTES",
                "1023",
                "bytes from 1024 to 1048576",
            ),
            ("ATLANTIC_MAX_HEAD_BYTES", "1048577", "from 1024"),
            ("ATLANTIC_MAX_HEAD_BYTES", "64k", "from 1024"),
            ("ATLANTIC_CONNECT_TIMEOUT_SECS", "0", "from 1 to 120"),
            ("ATLANTIC_CONNECT_TIMEOUT_SECS", "121", "from 1 to 120"),
            ("ATLANTIC_IDLE_TIMEOUT_SECS", "0", "from 1 to 86400"),
            ("ATLANTIC_IDLE_TIMEOUT_SECS", "86401", "from 1 to 86400"),
            ("ATLANTIC_MAX_CONNECTIONS", "0", "from 1 to 1000000"),
            ("ATLANTIC_MAX_CONNECTIONS", "-5", "from 1 to 1000000"),
            ("ATLANTIC_MAX_CONNECTIONS", "1000001", "from 1 to 1000000"),
            (
                "ATLANTIC_MAX_CONNECTIONS_PER_SOURCE",
                "0",
                "from 1 to 1000000",
            ),
            ("ATLANTIC_MAX_CONNECTIONS_PER_SOURCE", "lots", "from 1"),
            (
                "ATLANTIC_MAX_CONNECTIONS_PER_ACCOUNT",
                "0",
                "from 1 to 1000000",
            ),
            ("ATLANTIC_MAX_CONNECTIONS_PER_ACCOUNT", "none", "from 1"),
            ("ATLANTIC_KEEPALIVE_TIMEOUT_SECS", "0", "from 1 to 3600"),
            ("ATLANTIC_KEEPALIVE_TIMEOUT_SECS", "3601", "from 1 to 3600"),
            ("ATLANTIC_BLOCKED_PORTS", "25,0", "\"0\" is not a port"),
            (
                "ATLANTIC_BLOCKED_PORTS",
                "25,65536",
                "\"65536\" is not a port",
            ),
            ("ATLANTIC_BLOCKED_PORTS", "smtp", "from 1 to 65535"),
            ("ATLANTIC_BLOCKED_PORTS", "25;465", "is not a port"),
            ("ATLANTIC_BLOCKED_PORTS", " , ", "use none"),
            ("ATLANTIC_HEALTH_INTERVAL_SECS", "3601", "from 0 to 3600"),
            ("ATLANTIC_HEALTH_INTERVAL_SECS", "off", "from 0 to 3600"),
            ("ATLANTIC_HEALTH_PROBE_TARGET", "example.com", "host:port"),
            ("ATLANTIC_HEALTH_PROBE_TARGET", "example.com:0", "host:port"),
            (
                "ATLANTIC_HEALTH_PROBE_TARGET",
                "example.com:65536",
                "host:port",
            ),
            (
                "ATLANTIC_HEALTH_PROBE_TARGET",
                "2001:db8::1:443",
                "in brackets",
            ),
            ("ATLANTIC_HEALTH_PROBE_TARGET", "[zz]:443", "host:port"),
            (
                "ATLANTIC_HEALTH_PROBE_TARGET",
                "https://example.com:443",
                "host:port",
            ),
            ("ATLANTIC_HEALTH_PROBE_TARGET", ":443", "host:port"),
            ("ATLANTIC_EXIT_STRATEGY", "fastest", "round_robin"),
            ("ATLANTIC_EXIT_STRATEGY", "round-robin", "least_connections"),
            ("ATLANTIC_SESSION_TTL_SECS", "0", "from 1 to 86400"),
            ("ATLANTIC_SESSION_TTL_SECS", "86401", "from 1 to 86400"),
        ];
        for &(var, bad, expected) in cases {
            let e = resolve(&[(var, bad)]).expect_err(bad);
            assert_eq!(e.var, var, "{bad}");
            let line = e.to_string();
            assert!(line.starts_with(&format!("{var}: ")), "{line}");
            assert!(line.contains(expected), "{var}={bad}: {line}");
            assert!(!line.contains('\n'), "{line}");
        }
    }

    #[test]
    fn strategy_names_are_the_engines_own() {
        for s in [
            Strategy::LeastConnections,
            Strategy::RoundRobin,
            Strategy::LowestLatency,
            Strategy::WeightedRandom,
        ] {
            let name = serde_json::to_value(s).expect("serialise");
            let name = name.as_str().expect("a string");
            assert_eq!(edge(&[("ATLANTIC_EXIT_STRATEGY", name)]).strategy, s);
        }
    }
}
