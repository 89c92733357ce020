//! The gateway's error codes and everything each one means: its wire name (sent as
//! `X-Atlantic-Error`, recorded in usage and the activity log), HTTP status, RFC 9209
//! `Proxy-Status` error type, SOCKS5 reply, the reason a client is told when the detail stays in
//! the log, and the hint the dashboard shows. One row per code, so a code cannot lack any of them.

use std::fmt;

/// Everything one code means on the wire and to the customer.
struct Contract {
    name: &'static str,
    http_status: u16,
    proxy_status: &'static str,
    socks_reply: u8,
    reason: &'static str,
    hint: &'static str,
}

/// Declares [`ErrorCode`] and [`ErrorCode::ALL`] from one row per code, so a code cannot be
/// missing from `ALL`, and each row is a [`Contract`] literal, so it cannot lack a field.
macro_rules! error_codes {
    ($(
        $(#[$doc:meta])*
        $variant:ident { $($field:ident: $value:expr),+ $(,)? }
    ),+ $(,)?) => {
        /// Why the gateway refused or failed a request, as its customers see it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)+
        }

        impl ErrorCode {
            /// Every code, in declaration order ([`ErrorCode::index`] is the position here).
            pub const ALL: [ErrorCode; [$(stringify!($variant)),+].len()] =
                [$(ErrorCode::$variant),+];

            fn contract(self) -> &'static Contract {
                match self {
                    $(ErrorCode::$variant => &Contract { $($field: $value),+ },)+
                }
            }
        }
    };
}

error_codes! {
    /// 407: no credentials.
    AuthRequired {
        name: "auth_required",
        http_status: 407,
        proxy_status: "http_request_denied",
        socks_reply: 0x02, // connection not allowed by ruleset
        reason: "proxy credentials required",
        hint: "Your client sent no credentials: set the proxy username and password.",
    },
    /// 407: unknown user, wrong password, or source IP not on the allowlist.
    BadCredentials {
        name: "bad_credentials",
        http_status: 407,
        proxy_status: "http_request_denied",
        socks_reply: 0x02,
        reason: "invalid proxy credentials",
        hint: "Wrong username or password, or a source IP that is not on your allowlist. Check \
               Settings.",
    },
    /// 400: username parameters that do not parse or are not allowed.
    BadParameters {
        name: "bad_parameters",
        http_status: 400,
        proxy_status: "http_request_error",
        socks_reply: 0x02,
        reason: "invalid username parameters",
        hint: "The username's parameters did not parse or your plan does not allow them: see the \
               connection builder in Settings.",
    },
    /// 402: plan bandwidth used up, or no active plan.
    QuotaExceeded {
        name: "quota_exceeded",
        http_status: 402,
        proxy_status: "http_request_denied",
        socks_reply: 0x02,
        reason: "plan bandwidth used up or no active plan",
        hint: "Your plan's bandwidth is used up, or there is no active plan: renew on Billing.",
    },
    /// 429: requests per second or concurrent connections over the plan.
    RateLimited {
        name: "rate_limited",
        http_status: 429,
        proxy_status: "connection_limit_reached",
        socks_reply: 0x02,
        reason: "too many requests or connections for the plan",
        hint: "Too many requests per second or connections at once for your plan: slow down or \
               upgrade.",
    },
    /// 403: private or loopback destination, or a blocked port.
    DestinationBlocked {
        name: "destination_blocked",
        http_status: 403,
        proxy_status: "destination_ip_prohibited",
        socks_reply: 0x02,
        reason: "destination not allowed",
        hint: "Private and loopback addresses and mail ports (25, 465, 587) cannot be reached \
               through the proxy.",
    },
    /// 502: no healthy exit matches the targeting.
    NoExit {
        name: "no_exit",
        http_status: 502,
        proxy_status: "destination_unavailable",
        socks_reply: 0x03, // network unreachable
        reason: "no healthy exit matches the targeting",
        hint: "No healthy exit matches the country or city you asked for: try another, or none.",
    },
    /// 502: every tried exit failed.
    UpstreamFailed {
        name: "upstream_failed",
        http_status: 502,
        proxy_status: "destination_unavailable",
        socks_reply: 0x01, // general failure
        reason: "could not reach the destination through any exit",
        hint: "Every exit tried failed to reach the destination: the site may be down; retry in \
               a moment.",
    },
    /// 504: the destination did not answer in time.
    ConnectTimeout {
        name: "connect_timeout",
        http_status: 504,
        proxy_status: "connection_timeout",
        socks_reply: 0x04, // host unreachable
        reason: "the destination did not answer in time",
        hint: "The destination did not answer in time: retry, or check the site.",
    },
}

impl ErrorCode {
    /// The wire name (`auth_required`, …).
    pub fn as_str(self) -> &'static str {
        self.contract().name
    }

    /// Parses a wire name.
    pub fn from_wire(s: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Position in [`ErrorCode::ALL`], for per-code counter arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// HTTP status of the response.
    pub fn http_status(self) -> u16 {
        self.contract().http_status
    }

    /// RFC 9209 error type for the `Proxy-Status` header.
    pub fn proxy_status_type(self) -> &'static str {
        self.contract().proxy_status
    }

    /// Closest SOCKS5 (RFC 1928) reply code.
    pub fn socks_reply(self) -> u8 {
        self.contract().socks_reply
    }

    /// Generic one-line reason, told to the client for every 5xx (the detail goes to the log
    /// only) and when a refusal has no detail.
    pub fn generic_reason(self) -> &'static str {
        self.contract().reason
    }

    /// What the code means for the customer and what fixes it, one line.
    pub fn hint(self) -> &'static str {
        self.contract().hint
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::ErrorCode;

    #[test]
    fn every_code_round_trips_and_has_its_position() {
        for (i, code) in ErrorCode::ALL.into_iter().enumerate() {
            assert_eq!(ErrorCode::from_wire(code.as_str()), Some(code));
            assert_eq!(code.to_string(), code.as_str());
            assert_eq!(code.index(), i);
        }
        assert_eq!(ErrorCode::from_wire("no_such_code"), None);
        assert_eq!(ErrorCode::from_wire("AUTH_REQUIRED"), None);
    }

    #[test]
    fn statuses_are_the_documented_ones() {
        let statuses = [407, 407, 400, 402, 429, 403, 502, 502, 504];
        assert_eq!(ErrorCode::ALL.len(), statuses.len());
        for (code, status) in ErrorCode::ALL.into_iter().zip(statuses) {
            assert_eq!(code.http_status(), status, "{code}");
        }
    }

    #[test]
    fn socks_replies_are_closest_codes() {
        for code in ErrorCode::ALL {
            let want = match code {
                ErrorCode::NoExit => 0x03,
                ErrorCode::UpstreamFailed => 0x01,
                ErrorCode::ConnectTimeout => 0x04,
                _ => 0x02,
            };
            assert_eq!(code.socks_reply(), want, "{code}");
        }
    }

    #[test]
    fn every_code_is_fully_described_and_names_are_unique() {
        let mut names = HashSet::new();
        let mut hints = HashSet::new();
        for code in ErrorCode::ALL {
            let name = code.as_str();
            assert!(
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
            assert!(names.insert(name), "{name} twice");
            assert!((400..600).contains(&code.http_status()), "{name}");
            assert!((0x01..=0x08).contains(&code.socks_reply()), "{name}");
            assert!(!code.proxy_status_type().is_empty(), "{name}");
            // Both texts end up in headers or one-line bodies.
            for text in [code.generic_reason(), code.hint()] {
                assert!(!text.is_empty(), "{name}");
                assert!(
                    text.bytes().all(|b| b.is_ascii_graphic() || b == b' '),
                    "{text}"
                );
            }
            assert!(
                hints.insert(code.hint()),
                "{name}: hint shared with another code"
            );
        }
    }
}
