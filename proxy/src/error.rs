//! Why a request was refused or failed (code, side, retryable), and the one place where that
//! becomes an HTTP response or a SOCKS5 reply code.

/// The error codes of docs/design.md, sent as `X-Atlantic-Error` and recorded in usage. Defined
/// in `wire` with everything each means on the wire, which the dashboard shares.
pub use wire::ErrorCode;

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
    fn socks_reply_defaults_to_the_codes_and_can_be_made_precise() {
        let blocked = ProxyError::new(ErrorCode::DestinationBlocked, "x");
        assert_eq!(blocked.socks_reply_code(), 0x02);
        let refused = ProxyError::new(ErrorCode::UpstreamFailed, "x").with_socks_reply(0x05);
        assert_eq!(refused.socks_reply_code(), 0x05);
    }
}
