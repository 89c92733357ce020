//! "Test my proxy": one real request through the gateway with the viewer's own proxy
//! credentials and the connection builder's targeting, and what it saw. The server runs it
//! (`server/src/http/probe.rs`); this is the wire format, the hints and the server function.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use wire::username::{self as grammar, ProxyUsername, Targeting};

/// Probes one account may send a minute.
pub const PROBES_PER_MINUTE: u32 = 10;

/// The error code of a probe refused by the per-account limit (not a gateway code).
pub const TOO_MANY_PROBES: &str = "too_many_probes";

/// What to probe: the builder's protocol and targeting.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProbeSpec {
    /// `socks5` for the SOCKS5 port; anything else is the HTTP port.
    pub protocol: String,
    pub country: String,
    pub city: String,
    pub session: String,
    pub ttl: Option<u32>,
}

impl ProbeSpec {
    /// Whether the probe goes through the SOCKS5 port.
    pub fn socks(&self) -> bool {
        self.protocol == "socks5"
    }

    /// The username with this targeting, built like the connection builder builds it: a
    /// session id the grammar refuses is left out, and so is a lifetime without a session or
    /// out of range.
    pub fn username(&self, user: &str) -> String {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let session = grammar::check_session(&self.session)
            .is_ok()
            .then(|| self.session.clone());
        let ttl = self.ttl.filter(|m| grammar::check_ttl(*m).is_ok());
        ProxyUsername {
            user: user.to_owned(),
            targeting: Targeting {
                country: some(&self.country),
                city: some(&self.city),
                ttl_minutes: session.as_ref().and(ttl),
                session,
            },
        }
        .to_string()
    }
}

/// The exit a probe went through.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeExit {
    /// `0`: the gateway's direct egress.
    pub id: i64,
    pub name: String,
    pub country: String,
    pub city: Option<String>,
}

/// Why a probe failed, for the customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeError {
    /// The gateway's error code (`quota_exceeded`, …), [`TOO_MANY_PROBES`], or `None` when
    /// the failure has no code (a timeout, the target's TLS).
    pub code: Option<String>,
    /// What happened, one line.
    pub message: String,
    /// What to do about it, one line.
    pub hint: String,
}

/// What one probe saw.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReport {
    /// `http` or `socks5`.
    pub protocol: String,
    /// The proxy URL used, password hidden.
    pub proxy_url: String,
    /// The probe target's URL.
    pub target: String,
    /// The exit used, when the gateway reported it.
    pub exit: Option<ProbeExit>,
    /// Why the exit is not shown, when it is not.
    pub exit_note: Option<String>,
    /// The address the target saw (our echo endpoint's answer).
    pub seen_ip: Option<String>,
    /// The target's status line and first bytes, for a target that is not our echo.
    pub status_line: Option<String>,
    pub preview: Option<String>,
    /// From the start until the tunnel was open.
    pub connect_ms: Option<u64>,
    /// From the start until the first byte of the target's answer.
    pub first_byte_ms: Option<u64>,
    pub error: Option<ProbeError>,
}

/// The one-line hint for a failed probe's code: what the customer can do.
pub fn hint(code: Option<&str>) -> &'static str {
    match code {
        Some("quota_exceeded") => {
            "Your plan's data is used up, or there is no active plan: renew or upgrade on \
             Billing, then test again."
        }
        Some("no_exit") => {
            "No healthy exit matches this country or city right now: pick another, or Any."
        }
        Some("destination_blocked") => {
            "The gateway does not let traffic reach the probe target (a private or loopback \
             address): the operator should set ATLANTIC_PROBE_URL to a public echo URL."
        }
        Some("auth_required") | Some("bad_credentials") => {
            "The gateway refused your proxy credentials: if you just regenerated the password, \
             wait a second; otherwise check the IP allowlist below."
        }
        Some("bad_parameters") => {
            "The targeting did not parse or your plan does not allow it: clear the session or \
             country and test again."
        }
        Some("rate_limited") => {
            "Too many requests or connections at once for your plan: slow your clients down or \
             upgrade."
        }
        Some(TOO_MANY_PROBES) => "Probes are limited to 10 a minute per account.",
        Some("upstream_failed") => {
            "The exit could not reach the probe target: test again in a moment, or pick \
             another country."
        }
        Some("connect_timeout") => {
            "The probe target did not answer in time through the exit: test again in a moment."
        }
        Some(other) => wire::ErrorCode::from_wire(other).map_or(
            "See the documentation for this error code.",
            wire::ErrorCode::hint,
        ),
        None => {
            "The gateway or the probe target did not answer as expected: test again in a \
             moment; if it persists, tell support."
        }
    }
}

/// Sends one probe through the gateway with the viewer's credentials and `spec`'s targeting.
/// At most [`PROBES_PER_MINUTE`] a minute per account; a refusal is a report whose error is
/// [`TOO_MANY_PROBES`].
#[server(endpoint = "probe")]
pub async fn test_proxy(spec: ProbeSpec) -> Result<ProbeReport, ServerFnError> {
    let (_, account) = crate::api::access::signed_in()?;
    let prober = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<ssr::Prober>().cloned())
        .ok_or_else(|| ServerFnError::new("the proxy test is unavailable here"))?;
    Ok((prober.0)(account.0, spec).await)
}

/// Server side: how the server function reaches the server's prober.
#[cfg(feature = "ssr")]
pub mod ssr {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;

    use super::{ProbeReport, ProbeSpec};

    /// A probe under way.
    pub type ProbeFuture = Pin<Box<dyn Future<Output = ProbeReport> + Send>>;

    /// Runs a probe for an account; put into the server functions' request extensions by the
    /// server.
    #[derive(Clone)]
    pub struct Prober(pub Arc<dyn Fn(i64, ProbeSpec) -> ProbeFuture + Send + Sync>);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_carry_the_targeting_the_grammar_allows() {
        let spec = |country: &str, city: &str, session: &str, ttl| ProbeSpec {
            protocol: "http".into(),
            country: country.into(),
            city: city.into(),
            session: session.into(),
            ttl,
        };
        assert_eq!(spec("", "", "", Some(10)).username("u1"), "u1");
        assert_eq!(
            spec("ng", "lagos", "abc", Some(10)).username("u1"),
            "u1-country-ng-city-lagos-session-abc-ttl-10"
        );
        assert_eq!(spec("", "", "A-B", Some(10)).username("u1"), "u1");
    }

    #[test]
    fn the_quota_hint_says_the_data_is_used_up() {
        assert!(hint(Some("quota_exceeded")).starts_with("Your plan's data is used up"));
        assert!(hint(Some("destination_blocked")).contains("ATLANTIC_PROBE_URL"));
        for code in wire::ErrorCode::ALL {
            assert!(!hint(Some(code.as_str())).is_empty());
        }
    }
}
