//! Rewriting heads at the proxy boundary: hop-by-hop headers (RFC 9110 §7.6.1) and proxy
//! credentials are dropped, the origin gets an origin-form request with `Host` from the URI,
//! the client gets the origin's status line verbatim with the connection's fate stated.

use super::{RequestHead, ResponseHead};
use crate::destination::Destination;

/// Names listed in `Connection` headers (lower-cased): hop-by-hop by declaration.
fn connection_listed<'a>(it: impl Iterator<Item = (&'a str, &'a [u8])>) -> Vec<String> {
    let mut out = Vec::new();
    for (n, v) in it {
        if n.eq_ignore_ascii_case("connection") || n.eq_ignore_ascii_case("proxy-connection") {
            for t in v.split(|b| *b == b',') {
                let t = String::from_utf8_lossy(t.trim_ascii()).to_ascii_lowercase();
                if !t.is_empty() && t != "close" && t != "keep-alive" {
                    out.push(t);
                }
            }
        }
    }
    out
}

/// Headers that describe one connection and are never forwarded (RFC 9110 §7.6.1), plus the
/// proxy credentials, which are ours alone.
pub fn is_hop_by_hop(name: &str) -> bool {
    const HOP: [&str; 8] = [
        "connection",
        "proxy-connection",
        "keep-alive",
        "te",
        "upgrade",
        "proxy-authorization",
        "proxy-authenticate",
        "trailers",
    ];
    HOP.iter().any(|h| name.eq_ignore_ascii_case(h))
}

impl RequestHead {
    /// The head to send to the origin: origin-form target, `Host` from the URI, hop-by-hop
    /// headers and proxy credentials removed (and `Expect` when the gateway answered it).
    pub fn to_origin(&self, dest: &Destination, path: &str, drop_expect: bool) -> Vec<u8> {
        let listed = connection_listed(self.headers());
        let mut out = Vec::with_capacity(self.raw.len() + 16);
        out.extend_from_slice(self.method().as_bytes());
        out.push(b' ');
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(if self.version == 0 {
            b" HTTP/1.0\r\nHost: "
        } else {
            b" HTTP/1.1\r\nHost: "
        });
        out.extend_from_slice(dest.host.to_string().as_bytes());
        if dest.port != 80 {
            out.extend_from_slice(format!(":{}", dest.port).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        for (name, value) in self.headers() {
            let skip = is_hop_by_hop(name)
                || name.eq_ignore_ascii_case("host")
                || (drop_expect && name.eq_ignore_ascii_case("expect"))
                || listed.iter().any(|l| name.eq_ignore_ascii_case(l));
            if !skip {
                push_header(&mut out, name, value);
            }
        }
        if self.version == 0 && !self.wants_close() {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

impl ResponseHead {
    /// The head relayed to the client: status line verbatim, hop-by-hop headers removed, and
    /// the connection's fate stated when it differs from the client's version default.
    pub fn to_client(&self, client_version: u8, close: bool) -> Vec<u8> {
        let listed = connection_listed(self.headers());
        let mut out = Vec::with_capacity(self.raw.len() + 24);
        out.extend_from_slice(&self.raw[..self.status_line_end]);
        out.extend_from_slice(b"\r\n");
        for (name, value) in self.headers() {
            let skip = is_hop_by_hop(name) || listed.iter().any(|l| name.eq_ignore_ascii_case(l));
            if !skip {
                push_header(&mut out, name, value);
            }
        }
        if close {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if client_version == 0 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}
