//! Why a request was refused or failed (code, side, retryable), and the one place where that
//! becomes an HTTP response or a SOCKS5 reply code.

use std::fmt;

/// The error codes of DESIGN.md, sent as `X-Atlantic-Error` and recorded in usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 407: no credentials.
    AuthRequired,
    /// 407: unknown user, wrong password, or source IP not on the allowlist.
    BadCredentials,
    /// 400: username parameters that do not parse or are not allowed.
    BadParameters,
    /// 402: plan bandwidth used up, or no active plan.
    QuotaExceeded,
    /// 429: requests per second or concurrent connections over the plan.
    RateLimited,
    /// 403: private or loopback destination, or a blocked port.
    DestinationBlocked,
    /// 502: no healthy exit matches the targeting.
    NoExit,
    /// 502: every tried exit failed.
    UpstreamFailed,
    /// 504: the destination did not answer in time.
    ConnectTimeout,
}

impl ErrorCode {
    /// Every code, in declaration order ([`ErrorCode::index`] is the position here).
    pub const ALL: [ErrorCode; 9] = [
        ErrorCode::AuthRequired,
        ErrorCode::BadCredentials,
        ErrorCode::BadParameters,
        ErrorCode::QuotaExceeded,
        ErrorCode::RateLimited,
        ErrorCode::DestinationBlocked,
        ErrorCode::NoExit,
        ErrorCode::UpstreamFailed,
        ErrorCode::ConnectTimeout,
    ];

    /// The wire name (`auth_required`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AuthRequired => "auth_required",
            ErrorCode::BadCredentials => "bad_credentials",
            ErrorCode::BadParameters => "bad_parameters",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::DestinationBlocked => "destination_blocked",
            ErrorCode::NoExit => "no_exit",
            ErrorCode::UpstreamFailed => "upstream_failed",
            ErrorCode::ConnectTimeout => "connect_timeout",
        }
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
        match self {
            ErrorCode::AuthRequired | ErrorCode::BadCredentials => 407,
            ErrorCode::BadParameters => 400,
            ErrorCode::QuotaExceeded => 402,
            ErrorCode::RateLimited => 429,
            ErrorCode::DestinationBlocked => 403,
            ErrorCode::NoExit | ErrorCode::UpstreamFailed => 502,
            ErrorCode::ConnectTimeout => 504,
        }
    }

    /// RFC 9209 error type for the `Proxy-Status` header.
    fn proxy_status_type(self) -> &'static str {
        match self {
            ErrorCode::AuthRequired | ErrorCode::BadCredentials | ErrorCode::QuotaExceeded => {
                "http_request_denied"
            }
            ErrorCode::BadParameters => "http_request_error",
            ErrorCode::RateLimited => "connection_limit_reached",
            ErrorCode::DestinationBlocked => "destination_ip_prohibited",
            ErrorCode::NoExit | ErrorCode::UpstreamFailed => "destination_unavailable",
            ErrorCode::ConnectTimeout => "connection_timeout",
        }
    }

    /// Closest SOCKS5 (RFC 1928) reply code.
    pub fn socks_reply(self) -> u8 {
        match self {
            ErrorCode::AuthRequired
            | ErrorCode::BadCredentials
            | ErrorCode::BadParameters
            | ErrorCode::QuotaExceeded
            | ErrorCode::RateLimited
            | ErrorCode::DestinationBlocked => 0x02, // connection not allowed by ruleset
            ErrorCode::NoExit => 0x03,         // network unreachable
            ErrorCode::UpstreamFailed => 0x01, // general failure
            ErrorCode::ConnectTimeout => 0x04, // host unreachable
        }
    }

    /// Generic one-line reason, used for every 5xx (the detail goes to the log only).
    fn generic_reason(self) -> &'static str {
        match self {
            ErrorCode::AuthRequired => "proxy credentials required",
            ErrorCode::BadCredentials => "invalid proxy credentials",
            ErrorCode::BadParameters => "invalid username parameters",
            ErrorCode::QuotaExceeded => "plan bandwidth used up or no active plan",
            ErrorCode::RateLimited => "too many requests or connections for the plan",
            ErrorCode::DestinationBlocked => "destination not allowed",
            ErrorCode::NoExit => "no healthy exit matches the targeting",
            ErrorCode::UpstreamFailed => "could not reach the destination through any exit",
            ErrorCode::ConnectTimeout => "the destination did not answer in time",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which side of the gateway a failure belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The customer's request or credentials.
    Client,
    /// The gateway's own policy or limits.
    Gateway,
    /// An exit (upstream proxy) failed.
    Exit,
    /// The destination failed (refused, unreachable, timed out, DNS).
    Destination,
}

/// A refusal or failure of one request: what to answer, and what to log.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code} ({side:?}): {detail}")]
pub struct ProxyError {
    /// What the client is told.
    pub code: ErrorCode,
    /// Which side failed.
    pub side: Side,
    /// Whether trying another exit could help.
    pub retryable: bool,
    /// Human detail: sent to the client for 4xx, only logged for 5xx.
    pub detail: String,
    /// Seconds for `Retry-After` (rate limits).
    pub retry_after: Option<u64>,
    /// More precise SOCKS5 reply code than the code's default (e.g. connection refused).
    pub socks_reply: Option<u8>,
    /// The status an upstream HTTP proxy answered for the destination, told to the client as
    /// `Proxy-Status: …; received-status=N` (RFC 9209) and in the reason.
    pub upstream_status: Option<u16>,
}

impl ProxyError {
    /// A new error; side and retryability follow from the code.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        let (side, retryable) = match code {
            ErrorCode::AuthRequired
            | ErrorCode::BadCredentials
            | ErrorCode::BadParameters
            | ErrorCode::QuotaExceeded
            | ErrorCode::RateLimited => (Side::Client, false),
            ErrorCode::DestinationBlocked | ErrorCode::NoExit => (Side::Gateway, false),
            ErrorCode::UpstreamFailed => (Side::Exit, true),
            ErrorCode::ConnectTimeout => (Side::Destination, true),
        };
        Self {
            code,
            side,
            retryable,
            detail: detail.into(),
            retry_after: None,
            socks_reply: None,
            upstream_status: None,
        }
    }

    /// Sets `Retry-After`.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs.max(1));
        self
    }

    /// Overrides which side failed.
    pub fn with_side(mut self, side: Side) -> Self {
        self.side = side;
        self
    }

    /// Overrides the SOCKS5 reply code.
    pub fn with_socks_reply(mut self, reply: u8) -> Self {
        self.socks_reply = Some(reply);
        self
    }

    /// The one-line reason the client sees: the detail for 4xx, a generic text for 5xx.
    pub fn client_reason(&self) -> &str {
        if self.code.http_status() >= 500 || self.detail.is_empty() {
            self.code.generic_reason()
        } else {
            &self.detail
        }
    }

    /// SOCKS5 reply code for this error.
    pub fn socks_reply_code(&self) -> u8 {
        self.socks_reply.unwrap_or_else(|| self.code.socks_reply())
    }

    /// The complete HTTP/1.1 response (the connection is closed after it).
    pub fn http_response(&self) -> Vec<u8> {
        let code = self.code;
        let mut extra = String::new();
        if code.http_status() == 407 {
            extra.push_str("Proxy-Authenticate: Basic realm=\"atlantic\"\r\n");
        }
        if let Some(secs) = self.retry_after {
            extra.push_str(&format!("Retry-After: {secs}\r\n"));
        }
        extra.push_str(&format!("X-Atlantic-Error: {}\r\n", code.as_str()));
        let mut reason = format!("{}: {}", code.as_str(), self.client_reason());
        let mut proxy_status = code.proxy_status_type().to_owned();
        if let Some(status) = self.upstream_status {
            reason.push_str(&format!(" (the exit answered {status})"));
            proxy_status.push_str(&format!("; received-status={status}"));
        }
        render(code.http_status(), &proxy_status, &reason, &extra)
    }
}

/// The `503` sent before the first directory snapshot has loaded.
pub(crate) fn not_ready_response() -> Vec<u8> {
    render(
        503,
        "proxy_internal_error",
        "gateway starting: credentials not loaded yet",
        "Retry-After: 1\r\n",
    )
}

/// A bare protocol error (`400`, `408`, `431`) for a request that never got as far as a code.
pub(crate) fn protocol_error_response(status: u16, reason: &str) -> Vec<u8> {
    let kind = if status == 408 {
        "http_request_error"
    } else {
        "http_protocol_error"
    };
    render(status, kind, reason, "")
}

fn render(status: u16, proxy_status: &str, reason: &str, extra: &str) -> Vec<u8> {
    let line = one_line(reason);
    let body = format!("{line}\n");
    format!(
        "HTTP/1.1 {status} {phrase}\r\n{extra}Proxy-Status: atlantic; error={proxy_status}; \
         details=\"{details}\"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \
         {len}\r\nConnection: close\r\n\r\n{body}",
        phrase = reason_phrase(status),
        details = quoted(&line),
        len = body.len(),
    )
    .into_bytes()
}

/// Printable ASCII only, so the reason is safe in a header and a one-line body.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// Escapes for an RFC 8941 string.
fn quoted(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        402 => "Payment Required",
        403 => "Forbidden",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(e: &ProxyError) -> String {
        String::from_utf8(e.http_response()).expect("ascii")
    }

    #[test]
    fn every_code_round_trips_and_has_its_status() {
        let statuses = [407, 407, 400, 402, 429, 403, 502, 502, 504];
        for (code, status) in ErrorCode::ALL.into_iter().zip(statuses) {
            assert_eq!(ErrorCode::from_wire(code.as_str()), Some(code));
            assert_eq!(code.http_status(), status);
            assert_eq!(ErrorCode::ALL[code.index()], code);
        }
    }

    #[test]
    fn auth_response_asks_for_basic_credentials() {
        let t = text(&ProxyError::new(ErrorCode::AuthRequired, "no credentials"));
        assert!(t.starts_with("HTTP/1.1 407 Proxy Authentication Required\r\n"));
        assert!(t.contains("Proxy-Authenticate: Basic realm=\"atlantic\"\r\n"));
        assert!(t.contains("X-Atlantic-Error: auth_required\r\n"));
        assert!(t.contains("Proxy-Status: atlantic; error=http_request_denied; details=\""));
        assert!(t.ends_with("\r\n\r\nauth_required: no credentials\n"));
    }

    #[test]
    fn server_errors_hide_their_detail() {
        let e = ProxyError::new(ErrorCode::UpstreamFailed, "10.1.2.3:8080 refused");
        let t = text(&e);
        assert!(t.starts_with("HTTP/1.1 502 Bad Gateway\r\n"));
        assert!(!t.contains("10.1.2.3"));
    }

    #[test]
    fn rate_limit_carries_retry_after_and_details_are_escaped() {
        let e = ProxyError::new(ErrorCode::RateLimited, "a \"quoted\"\nthing").with_retry_after(3);
        let t = text(&e);
        assert!(t.contains("Retry-After: 3\r\n"));
        assert!(t.contains("details=\"rate_limited: a \\\"quoted\\\"?thing\""));
        let body = t.split("\r\n\r\n").nth(1).expect("body");
        assert_eq!(body.matches('\n').count(), 1);
        let len: usize = t
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|v| v.trim().parse().ok())
            .expect("content-length");
        assert_eq!(len, body.len());
    }

    #[test]
    fn socks_replies_are_closest_codes() {
        assert_eq!(ErrorCode::DestinationBlocked.socks_reply(), 0x02);
        assert_eq!(ErrorCode::NoExit.socks_reply(), 0x03);
        assert_eq!(ErrorCode::ConnectTimeout.socks_reply(), 0x04);
        let refused = ProxyError::new(ErrorCode::UpstreamFailed, "x").with_socks_reply(0x05);
        assert_eq!(refused.socks_reply_code(), 0x05);
    }
}
