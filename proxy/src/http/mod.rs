//! HTTP/1.x protocol pieces of the proxy: reading request and response heads (with a size cap),
//! classifying request targets, hop-by-hop header handling, `Proxy-Authorization: Basic`, and
//! rewriting heads for forwarding. No I/O policy lives here.

mod body;
mod rewrite;

use std::ops::Range;

use base64::Engine as _;
use bytes::Bytes;
use tokio::io::AsyncRead;

pub(crate) use body::{BodyLength, copy_body};

use crate::buffered::Buffered;
use crate::destination::Destination;

/// Headers a single head may carry.
const MAX_HEADERS: usize = 128;

/// Why a head could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    /// Larger than the cap (answered `431`).
    #[error("head larger than the limit")]
    TooLarge,
    /// Not HTTP/1.x, or a bad target (answered `400`).
    #[error("malformed head: {0}")]
    Malformed(&'static str),
    /// The peer closed before sending any byte of a head.
    #[error("connection closed")]
    Closed,
    /// An I/O error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

#[derive(Debug, Clone)]
struct HeaderPos {
    name: Range<usize>,
    value: Range<usize>,
}

/// A parsed request head; the raw bytes are kept so forwarding copies them verbatim.
#[derive(Debug, Clone)]
pub struct RequestHead {
    raw: Bytes,
    method: Range<usize>,
    target: Range<usize>,
    /// Minor version: `0` for HTTP/1.0, `1` for HTTP/1.1.
    pub version: u8,
    headers: Vec<HeaderPos>,
}

/// A parsed response head.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    raw: Bytes,
    /// Status code.
    pub status: u16,
    /// Minor version.
    pub version: u8,
    headers: Vec<HeaderPos>,
    /// The status line (without CRLF, and without the empty lines httparse skips before it).
    status_line: Range<usize>,
}

/// What a request asks the proxy to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestTarget {
    /// `CONNECT host:port`.
    Tunnel(Destination),
    /// An absolute-form `http://` request to forward; `path` is origin-form (`/…`).
    Forward {
        /// The origin.
        dest: Destination,
        /// Path and query, verbatim.
        path: String,
    },
}

fn offset(base: &[u8], part: &[u8]) -> Range<usize> {
    // Both slices come from the same buffer (httparse borrows from it).
    let start = part.as_ptr() as usize - base.as_ptr() as usize;
    start..start + part.len()
}

fn positions(base: &[u8], headers: &[httparse::Header<'_>]) -> Vec<HeaderPos> {
    headers
        .iter()
        .map(|h| HeaderPos {
            name: offset(base, h.name.as_bytes()),
            value: offset(base, h.value),
        })
        .collect()
}

fn map_parse_error(e: httparse::Error) -> HeadError {
    match e {
        httparse::Error::TooManyHeaders => HeadError::TooLarge,
        _ => HeadError::Malformed("not an HTTP/1.x head"),
    }
}

/// Parses a request head at the start of `buf`; `None` while incomplete.
pub fn parse_request(buf: &[u8]) -> Result<Option<RequestHead>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf).map_err(map_parse_error)? {
        httparse::Status::Partial => Ok(None),
        httparse::Status::Complete(n) => {
            let method = offset(buf, req.method.unwrap_or_default().as_bytes());
            let target = offset(buf, req.path.unwrap_or_default().as_bytes());
            let version = req.version.unwrap_or(1);
            let headers = positions(buf, req.headers);
            let raw = Bytes::copy_from_slice(&buf[..n]);
            Ok(Some(RequestHead {
                raw,
                method,
                target,
                version,
                headers,
            }))
        }
    }
}

/// Parses a response head at the start of `buf`; `None` while incomplete.
pub fn parse_response(buf: &[u8]) -> Result<Option<ResponseHead>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut headers);
    match res.parse(buf).map_err(map_parse_error)? {
        httparse::Status::Partial => Ok(None),
        httparse::Status::Complete(n) => {
            let status = res.code.unwrap_or_default();
            let version = res.version.unwrap_or(1);
            let headers = positions(buf, res.headers);
            // httparse tolerates empty lines before the status line; they are not part of it
            let is_eol = |b: &u8| *b == b'\r' || *b == b'\n';
            let start = buf.iter().position(|b| !is_eol(b)).unwrap_or(0);
            let end = buf[start..]
                .iter()
                .position(is_eol)
                .map_or(start, |n| start + n);
            let raw = Bytes::copy_from_slice(&buf[..n]);
            Ok(Some(ResponseHead {
                raw,
                status,
                version,
                headers,
                status_line: start..end,
            }))
        }
    }
}

/// Reads one head with `parse`, keeping any bytes after it buffered. `max` caps the head size.
pub(crate) async fn read_head<S, T>(
    src: &mut Buffered<S>,
    max: usize,
    parse: fn(&[u8]) -> Result<Option<T>, HeadError>,
    len: fn(&T) -> usize,
) -> Result<T, HeadError>
where
    S: AsyncRead + Unpin,
{
    loop {
        if !src.buffer().is_empty() {
            let window = &src.buffer()[..src.buffer().len().min(max)];
            if let Some(head) = parse(window)? {
                src.consume(len(&head));
                return Ok(head);
            }
            if src.buffer().len() >= max {
                return Err(HeadError::TooLarge);
            }
        }
        if src.fill().await? == 0 {
            return Err(if src.buffer().is_empty() {
                HeadError::Closed
            } else {
                HeadError::Malformed("connection closed in the middle of a head")
            });
        }
    }
}

/// Reads a request head (see [`read_head`]).
pub(crate) async fn read_request<S: AsyncRead + Unpin>(
    src: &mut Buffered<S>,
    max: usize,
) -> Result<RequestHead, HeadError> {
    read_head(src, max, parse_request, |h| h.raw.len()).await
}

/// Reads a response head (see [`read_head`]).
pub(crate) async fn read_response<S: AsyncRead + Unpin>(
    src: &mut Buffered<S>,
    max: usize,
) -> Result<ResponseHead, HeadError> {
    read_head(src, max, parse_response, |h| h.raw.len()).await
}

fn header_iter<'a>(
    raw: &'a [u8],
    headers: &'a [HeaderPos],
) -> impl Iterator<Item = (&'a str, &'a [u8])> {
    headers.iter().map(move |h| {
        // httparse only accepts token characters in names, which are ASCII.
        let name = std::str::from_utf8(&raw[h.name.clone()]).unwrap_or_default();
        (name, &raw[h.value.clone()])
    })
}

fn header_tokens<'a>(
    mut it: impl Iterator<Item = (&'a str, &'a [u8])>,
    names: &[&str],
    token: &str,
) -> bool {
    it.any(|(n, v)| {
        names.iter().any(|want| n.eq_ignore_ascii_case(want))
            && v.split(|b| *b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

impl RequestHead {
    /// The head exactly as received.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn raw_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// The request method.
    pub fn method(&self) -> &str {
        std::str::from_utf8(&self.raw[self.method.clone()]).unwrap_or_default()
    }

    /// The raw request target.
    pub fn target_str(&self) -> &str {
        std::str::from_utf8(&self.raw[self.target.clone()]).unwrap_or_default()
    }

    /// All headers in order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        header_iter(&self.raw, &self.headers)
    }

    /// First value of a header.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Whether the client wants the connection closed after this exchange.
    pub fn wants_close(&self) -> bool {
        let names = ["connection", "proxy-connection"];
        if self.version == 0 {
            !header_tokens(self.headers(), &names, "keep-alive")
        } else {
            header_tokens(self.headers(), &names, "close")
        }
    }

    /// The protocol a bodiless HTTP/1.1 request asks to switch to (`Connection: upgrade` with
    /// `Upgrade: …`, e.g. a WebSocket handshake); `None` for every other request.
    pub fn upgrade(&self) -> Option<&[u8]> {
        let asked = self.version == 1
            && !self.method().eq_ignore_ascii_case("CONNECT")
            && header_tokens(self.headers(), &["connection"], "upgrade");
        let bodiless = matches!(BodyLength::of_request(self), Ok(BodyLength::Empty));
        self.header("upgrade")
            .filter(|p| asked && bodiless && !p.trim_ascii().is_empty())
    }

    /// Whether the client sent `Expect: 100-continue`.
    pub fn expects_continue(&self) -> bool {
        header_tokens(self.headers(), &["expect"], "100-continue")
    }

    /// `Proxy-Authorization: Basic` credentials, if any header is present: `Some(None)` when
    /// the header is there but unreadable.
    pub fn proxy_credentials(&self) -> Option<Option<(String, String)>> {
        self.header("proxy-authorization").map(basic_credentials)
    }

    /// Classifies the target: CONNECT authority, or absolute `http://` URI.
    pub fn target(&self) -> Result<RequestTarget, HeadError> {
        let target = self.target_str();
        if self.method().eq_ignore_ascii_case("CONNECT") {
            return Destination::parse_authority(target, None)
                .map(RequestTarget::Tunnel)
                .ok_or(HeadError::Malformed("CONNECT needs host:port"));
        }
        let rest = strip_scheme(target, "http://").ok_or_else(|| {
            if strip_scheme(target, "https://").is_some() {
                HeadError::Malformed("https:// URLs must be tunnelled with CONNECT")
            } else {
                HeadError::Malformed("a proxy request needs an absolute http:// URI")
            }
        })?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        // userinfo is not for the origin; drop it
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        let dest = Destination::parse_authority(authority, Some(80))
            .ok_or(HeadError::Malformed("bad host in the request URI"))?;
        let path = match path.split('#').next().unwrap_or_default() {
            "" => "/".to_owned(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_owned(),
        };
        Ok(RequestTarget::Forward { dest, path })
    }
}

fn strip_scheme<'a>(s: &'a str, scheme: &str) -> Option<&'a str> {
    let head = s.get(..scheme.len())?;
    head.eq_ignore_ascii_case(scheme)
        .then(|| &s[scheme.len()..])
}

impl ResponseHead {
    /// All headers in order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        header_iter(&self.raw, &self.headers)
    }

    /// Whether the server will close the connection after this response.
    pub fn wants_close(&self) -> bool {
        if self.version == 0 {
            !header_tokens(self.headers(), &["connection"], "keep-alive")
        } else {
            header_tokens(self.headers(), &["connection"], "close")
        }
    }
}

/// Decodes a `Basic` credentials header value into (username, password).
pub fn basic_credentials(value: &[u8]) -> Option<(String, String)> {
    let value = value.trim_ascii();
    let (scheme, rest) = value.split_at(value.iter().position(|b| *b == b' ')?);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim_ascii())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

/// The request an upstream HTTP proxy gets to open a tunnel.
pub fn connect_request(dest: &Destination, credentials: Option<(&str, &str)>) -> Vec<u8> {
    let mut out = format!("CONNECT {dest} HTTP/1.1\r\nHost: {dest}\r\n");
    if let Some((u, p)) = credentials {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        out.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(s: &str) -> RequestHead {
        parse_request(s.as_bytes())
            .expect("valid")
            .expect("complete")
    }

    #[test]
    fn connect_target_is_an_authority() {
        let h = req("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
        assert_eq!(h.method(), "CONNECT");
        let want = Destination::parse_authority("example.com:443", None).expect("dest");
        assert_eq!(h.target().expect("target"), RequestTarget::Tunnel(want));
        assert!(
            req("CONNECT example.com HTTP/1.1\r\n\r\n")
                .target()
                .is_err()
        );
    }

    #[test]
    fn absolute_uri_is_split_into_origin_and_path() {
        let h = req("GET http://user:pw@Example.com:8080?q=1 HTTP/1.1\r\n\r\n");
        match h.target().expect("target") {
            RequestTarget::Forward { dest, path } => {
                assert_eq!(dest.to_string(), "example.com:8080");
                assert_eq!(path, "/?q=1");
            }
            other => panic!("{other:?}"),
        }
        assert!(req("GET /x HTTP/1.1\r\n\r\n").target().is_err());
        assert!(req("GET https://a.com/ HTTP/1.1\r\n\r\n").target().is_err());
    }

    #[test]
    fn partial_heads_wait_and_garbage_is_malformed() {
        assert!(
            parse_request(b"GET http://a/ HTTP/1.1\r\nHost: a\r\n")
                .expect("ok")
                .is_none()
        );
        assert!(matches!(
            parse_request(b"\x16\x03\x01 hello\r\n\r\n"),
            Err(HeadError::Malformed(_))
        ));
    }

    #[test]
    fn origin_head_drops_hop_by_hop_and_credentials() {
        let h = req(
            "GET http://a.com/p HTTP/1.1\r\nHost: wrong\r\nProxy-Authorization: Basic eDp5\r\n\
                     Connection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 5\r\nAccept: */*\r\n\r\n",
        );
        let RequestTarget::Forward { dest, path } = h.target().expect("target") else {
            panic!()
        };
        let out = String::from_utf8(h.to_origin(&dest, &path, false)).expect("utf8");
        assert_eq!(out, "GET /p HTTP/1.1\r\nHost: a.com\r\nAccept: */*\r\n\r\n");
    }

    #[test]
    fn close_semantics_follow_the_version() {
        assert!(!req("GET http://a/ HTTP/1.1\r\n\r\n").wants_close());
        assert!(req("GET http://a/ HTTP/1.1\r\nConnection: Close\r\n\r\n").wants_close());
        assert!(req("GET http://a/ HTTP/1.0\r\n\r\n").wants_close());
        assert!(
            !req("GET http://a/ HTTP/1.0\r\nProxy-Connection: keep-alive\r\n\r\n").wants_close()
        );
    }

    #[test]
    fn basic_credentials_decode() {
        let token = base64::engine::general_purpose::STANDARD.encode("alice-country-de:p:w");
        let v = format!("Basic {token}");
        assert_eq!(
            basic_credentials(v.as_bytes()),
            Some(("alice-country-de".into(), "p:w".into()))
        );
        assert_eq!(basic_credentials(b"Bearer abc"), None);
        assert_eq!(basic_credentials(b"Basic !!!"), None);
        let h = req(&format!(
            "GET http://a/ HTTP/1.1\r\nproxy-authorization: {v}\r\n\r\n"
        ));
        assert_eq!(
            h.proxy_credentials().flatten().map(|c| c.0),
            Some("alice-country-de".to_owned())
        );
    }

    #[test]
    fn response_head_is_relayed_without_hop_by_hop() {
        let raw: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nhi";
        let r = parse_response(raw).expect("ok").expect("complete");
        assert_eq!(r.status, 200);
        assert_eq!(r.raw.len(), raw.len() - 2);
        assert_eq!(
            r.to_client(1, false),
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
        );
        assert_eq!(
            r.to_client(1, true),
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn empty_lines_before_a_status_line_are_not_relayed() {
        let r = parse_response(b"\r\n\nHTTP/1.1 204 No Content\r\nX: 1\r\n\r\n")
            .expect("ok")
            .expect("complete");
        assert_eq!(
            r.to_client(1, false),
            b"HTTP/1.1 204 No Content\r\nX: 1\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn read_head_caps_size_and_keeps_the_rest() {
        let (mut a, b) = tokio::io::duplex(1 << 16);
        tokio::io::AsyncWriteExt::write_all(&mut a, b"GET http://a/ HTTP/1.1\r\n\r\nBODY")
            .await
            .expect("write");
        let mut src = Buffered::new(b);
        let head = read_request(&mut src, 1024).await.expect("head");
        assert_eq!(head.method(), "GET");
        assert_eq!(src.buffer(), b"BODY");

        let (mut a, b) = tokio::io::duplex(1 << 16);
        let big = format!("GET http://a/ HTTP/1.1\r\nX: {}\r\n\r\n", "y".repeat(2000));
        tokio::io::AsyncWriteExt::write_all(&mut a, big.as_bytes())
            .await
            .expect("write");
        let mut src = Buffered::new(b);
        assert!(matches!(
            read_request(&mut src, 1024).await,
            Err(HeadError::TooLarge)
        ));

        let (a, b) = tokio::io::duplex(64);
        drop(a);
        let mut src = Buffered::new(b);
        assert!(matches!(
            read_request(&mut src, 1024).await,
            Err(HeadError::Closed)
        ));
    }
}
