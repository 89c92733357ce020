//! Rewriting heads at the proxy boundary: hop-by-hop headers (RFC 9110 §7.6.1) and proxy
//! credentials are dropped, the origin gets an origin-form request with `Host` from the URI,
//! the client gets the origin's status line verbatim with the connection's fate stated.

use super::{RequestHead, ResponseHead};
use crate::destination::Destination;

/// Headers a `Connection` list may not remove: dropping the framing headers would make the
/// next hop read the body differently from us (request smuggling, response splitting).
const NEVER_LISTED: [&str; 3] = ["content-length", "transfer-encoding", "host"];

/// Names listed in `Connection` headers (lower-cased): hop-by-hop by declaration, except the
/// framing headers.
fn connection_listed<'a>(it: impl Iterator<Item = (&'a str, &'a [u8])>) -> Vec<String> {
    let mut out = Vec::new();
    for (n, v) in it {
        if n.eq_ignore_ascii_case("connection") || n.eq_ignore_ascii_case("proxy-connection") {
            for t in v.split(|b| *b == b',') {
                let t = String::from_utf8_lossy(t.trim_ascii()).to_ascii_lowercase();
                let kept = NEVER_LISTED.contains(&t.as_str());
                if !t.is_empty() && t != "close" && t != "keep-alive" && !kept {
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
        let chunked = has_transfer_encoding(self.headers());
        let upgrade = self.upgrade().is_some();
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
            // the one hop-by-hop header passed on: the protocol the client asks to switch to
            let kept = upgrade && name.eq_ignore_ascii_case("upgrade");
            let hop = is_hop_by_hop(name) || listed.iter().any(|l| name.eq_ignore_ascii_case(l));
            let skip = (hop && !kept)
                || name.eq_ignore_ascii_case("host")
                || (drop_expect && name.eq_ignore_ascii_case("expect"))
                || (chunked && name.eq_ignore_ascii_case("content-length"));
            if !skip {
                push_header(&mut out, name, value);
            }
        }
        if upgrade {
            out.extend_from_slice(b"Connection: Upgrade\r\n");
        } else if self.version == 0 && !self.wants_close() {
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
        let mut out = self.relayed_head(false);
        if close {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if client_version == 0 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// Whether a `Transfer-Encoding` is present: it overrides `Content-Length`, which an
/// intermediary then removes (RFC 9112 §6.3) so no later hop can frame the body by it.
fn has_transfer_encoding<'a>(mut it: impl Iterator<Item = (&'a str, &'a [u8])>) -> bool {
    it.any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
}

impl ResponseHead {
    /// The `101 Switching Protocols` head relayed to a client whose upgrade the origin
    /// accepted: like [`ResponseHead::to_client`], but `Upgrade` and `Connection: Upgrade` stay.
    pub fn to_client_switching(&self) -> Vec<u8> {
        let mut out = self.relayed_head(true);
        out.extend_from_slice(b"Connection: Upgrade\r\n\r\n");
        out
    }

    /// Status line and end-to-end headers (plus `Upgrade` when `upgrade`), without the blank
    /// line.
    fn relayed_head(&self, upgrade: bool) -> Vec<u8> {
        let listed = connection_listed(self.headers());
        let chunked = has_transfer_encoding(self.headers());
        let mut out = Vec::with_capacity(self.raw.len() + 24);
        out.extend_from_slice(&self.raw[self.status_line.clone()]);
        out.extend_from_slice(b"\r\n");
        for (name, value) in self.headers() {
            let kept = upgrade && name.eq_ignore_ascii_case("upgrade");
            let hop = is_hop_by_hop(name) || listed.iter().any(|l| name.eq_ignore_ascii_case(l));
            let skip = (hop && !kept) || (chunked && name.eq_ignore_ascii_case("content-length"));
            if !skip {
                push_header(&mut out, name, value);
            }
        }
        out
    }
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use crate::destination::Destination;
    use crate::http::{BodyLength, parse_request, parse_response};

    #[test]
    fn connection_cannot_strip_the_body_framing() {
        let raw = "POST http://a.com/ HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\
                   Connection: content-length, Transfer-Encoding, host, x-drop\r\nX-Drop: 1\r\n\r\n";
        let head = parse_request(raw.as_bytes())
            .expect("ok")
            .expect("complete");
        let dest = Destination::parse_authority("a.com", Some(80)).expect("dest");
        let out = head.to_origin(&dest, "/", false);
        let again = parse_request(&out).expect("ok").expect("complete");
        assert_eq!(
            BodyLength::of_request(&again).ok(),
            Some(BodyLength::Chunked)
        );
        let text = String::from_utf8(out).expect("utf8");
        assert!(text.contains("Transfer-Encoding: chunked\r\n"), "{text}");
        assert!(
            !text.contains("Content-Length") && !text.contains("X-Drop"),
            "{text}"
        );

        let raw = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: content-length\r\n\r\n";
        let res = parse_response(raw.as_bytes())
            .expect("ok")
            .expect("complete");
        let again = parse_response(&res.to_client(1, false))
            .expect("ok")
            .expect("complete");
        assert_eq!(
            BodyLength::of_response("GET", &again).ok(),
            Some(BodyLength::Exact(3))
        );
    }
}
