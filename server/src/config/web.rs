//! The web listener's settings from the environment: how long a client may take to send a
//! request head, how long a connection may sit idle, how many connections may be open at
//! once (in all and from one source), and how many password checks may run at once.

use std::time::Duration;

use super::{ConfigError, Env, secs, whole};

const COUNT: &str = "a whole number";

/// The web listener's settings, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSettings {
    /// `ATLANTIC_WEB_HEADER_TIMEOUT_SECS`: time a client has to send a complete request head
    /// (hyper counts a kept-alive connection's wait for its next request as part of it).
    pub header_timeout: Duration,
    /// `ATLANTIC_WEB_IDLE_TIMEOUT_SECS`: a connection with no byte moving either way for this
    /// long is closed (a stalled request body, a response the client stopped reading).
    pub idle_timeout: Duration,
    /// `ATLANTIC_WEB_MAX_CONNECTIONS`: connections open at once; further ones are closed at
    /// once.
    pub max_connections: usize,
    /// `ATLANTIC_WEB_MAX_CONNECTIONS_PER_SOURCE`: connections open at once from one source
    /// (an IPv4 address or an IPv6 /64; trusted reverse proxies are exempt).
    pub max_connections_per_source: usize,
    /// `ATLANTIC_PASSWORD_HASH_CONCURRENCY`: argon2 checks running at once (sign-in,
    /// registration, password change); past it, `503` with `Retry-After`.
    pub password_hash_concurrency: usize,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            max_connections_per_source: 256,
            password_hash_concurrency: crate::auth::PasswordWork::default_slots(),
        }
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl WebSettings {
    /// Reads and checks every web listener variable; an unset one keeps its default.
    pub(super) fn from_env(env: Env) -> Result<WebSettings, ConfigError> {
        let d = WebSettings::default();
        Ok(WebSettings {
            header_timeout: secs(env, "ATLANTIC_WEB_HEADER_TIMEOUT_SECS", 1..=300)?
                .unwrap_or(d.header_timeout),
            idle_timeout: secs(env, "ATLANTIC_WEB_IDLE_TIMEOUT_SECS", 1..=3600)?
                .unwrap_or(d.idle_timeout),
            max_connections: whole(env, "ATLANTIC_WEB_MAX_CONNECTIONS", 1..=1_000_000, COUNT)?
                .map_or(d.max_connections, to_usize),
            max_connections_per_source: whole(
                env,
                "ATLANTIC_WEB_MAX_CONNECTIONS_PER_SOURCE",
                1..=1_000_000,
                COUNT,
            )?
            .map_or(d.max_connections_per_source, to_usize),
            password_hash_concurrency: whole(
                env,
                "ATLANTIC_PASSWORD_HASH_CONCURRENCY",
                1..=1024,
                COUNT,
            )?
            .map_or(d.password_hash_concurrency, to_usize),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::resolve;

    fn web(vars: &[(&str, &str)]) -> WebSettings {
        resolve(vars).expect("valid web settings").web
    }

    #[test]
    fn unset_web_settings_are_the_documented_defaults() {
        let w = web(&[]);
        assert_eq!(w, WebSettings::default());
        assert_eq!(w.header_timeout, Duration::from_secs(10));
        assert_eq!(w.idle_timeout, Duration::from_secs(60));
        assert_eq!(w.max_connections, 10_000);
        assert_eq!(w.max_connections_per_source, 256);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(w.password_hash_concurrency, cores);
    }

    #[test]
    fn each_web_setting_is_read() {
        let w = web(&[
            ("ATLANTIC_WEB_HEADER_TIMEOUT_SECS", "3"),
            ("ATLANTIC_WEB_IDLE_TIMEOUT_SECS", " 90 "),
            ("ATLANTIC_WEB_MAX_CONNECTIONS", "500"),
            ("ATLANTIC_WEB_MAX_CONNECTIONS_PER_SOURCE", "20"),
            ("ATLANTIC_PASSWORD_HASH_CONCURRENCY", "1"),
        ]);
        assert_eq!(w.header_timeout, Duration::from_secs(3));
        assert_eq!(w.idle_timeout, Duration::from_secs(90));
        assert_eq!(w.max_connections, 500);
        assert_eq!(w.max_connections_per_source, 20);
        assert_eq!(w.password_hash_concurrency, 1);
    }

    #[test]
    fn bad_web_values_are_one_line_naming_the_variable() {
        for (var, bad) in [
            ("ATLANTIC_WEB_HEADER_TIMEOUT_SECS", "0"),
            ("ATLANTIC_WEB_HEADER_TIMEOUT_SECS", "301"),
            ("ATLANTIC_WEB_IDLE_TIMEOUT_SECS", "1m"),
            ("ATLANTIC_WEB_MAX_CONNECTIONS", "0"),
            ("ATLANTIC_WEB_MAX_CONNECTIONS_PER_SOURCE", "-1"),
            ("ATLANTIC_PASSWORD_HASH_CONCURRENCY", "0"),
            ("ATLANTIC_PASSWORD_HASH_CONCURRENCY", "1025"),
        ] {
            let e = resolve(&[(var, bad)]).expect_err(bad);
            assert_eq!(e.var, var);
            let shown = e.to_string();
            assert!(shown.starts_with(&format!("{var}: \"{bad}\"")), "{shown}");
            assert!(!shown.contains('\n'), "{shown}");
        }
    }
}
