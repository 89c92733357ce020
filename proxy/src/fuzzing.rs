//! Entry points for the fuzz targets in `proxy/fuzz/` (feature `fuzzing`, not a stable API).
//! Each runs one of the gateway's parsers on arbitrary bytes the way a connection does, and
//! panics when an invariant breaks: a head we forward must read back as the same message with
//! the same body framing (no smuggling through our rewrite), incremental reading must agree
//! with parsing the whole input, bodies are copied verbatim, and addresses survive a round trip.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::buffered::Buffered;
use crate::destination::Destination;
use crate::http::{self, BodyLength, HeadError, RequestHead, RequestTarget};
use crate::socks5::{self, Accepted, Authenticator, SocksError};
use crate::username::ProxyUsername;

/// The head size cap of the default configuration.
const MAX_HEAD: usize = 64 * 1024;

/// A peer that sends `input` a few bytes at a time and records what it is sent.
struct Peer<'a> {
    input: &'a [u8],
    step: usize,
    output: Vec<u8>,
}

impl<'a> Peer<'a> {
    fn new(input: &'a [u8], step: u8) -> Self {
        Self {
            input,
            step: usize::from(step % 64) + 1,
            output: Vec::new(),
        }
    }
}

impl AsyncRead for Peer<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.input.len().min(self.step).min(buf.remaining());
        let (now, later) = self.input.split_at(n);
        buf.put_slice(now);
        self.input = later;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Peer<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.output.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

thread_local! {
    // Body copies run under tokio's timers; one small runtime per fuzzing thread.
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime builds");
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    RUNTIME.with(|rt| rt.block_on(f))
}

/// Fuzz target `http_head`: the first byte picks how many bytes arrive per read, the rest is
/// what a client (or an origin, for the response side) sends.
pub fn http_head(data: &[u8]) {
    let Some((&step, data)) = data.split_first() else {
        return;
    };
    request_side(data, step);
    response_side(data, step);
}

fn request_side(data: &[u8], step: u8) {
    let whole = http::parse_request(&data[..data.len().min(MAX_HEAD)]);
    let mut src = Buffered::new(Peer::new(data, step));
    let read = block_on(http::read_request(&mut src, MAX_HEAD));
    match (&whole, &read) {
        (Ok(Some(w)), Ok(r)) => assert_eq!(w.raw_bytes(), r.raw_bytes(), "same head"),
        (Ok(Some(_)), Err(e)) => panic!("whole input parses but reading failed: {e}"),
        (Err(_) | Ok(None), Ok(_)) => panic!("reading found a head the whole input does not have"),
        (Err(_) | Ok(None), Err(_)) => {}
    }
    let Ok(head) = read else {
        return;
    };
    check_request(&head);
    if let Ok(len) = BodyLength::of_request(&head) {
        check_body(src, len, step);
    }
}

fn check_request(head: &RequestHead) {
    let _ = (head.method(), head.headers().count(), head.wants_close());
    let _ = head.expects_continue();
    if let Some(Some((user, _))) = head.proxy_credentials() {
        let account = ProxyUsername::account_part(&user);
        if let Ok(parsed) = ProxyUsername::parse(&user) {
            assert_eq!(
                parsed.user, account,
                "the account part agrees with the parse"
            );
        }
    }
    let framing = BodyLength::of_request(head).ok();
    match head.target() {
        Ok(RequestTarget::Forward { dest, path }) => {
            check_destination(&dest);
            for drop_expect in [false, true] {
                let out = head.to_origin(&dest, &path, drop_expect);
                let again = reparse(&out, http::parse_request, "origin request");
                assert_eq!(again.method(), head.method());
                assert_eq!(again.target_str(), path, "origin-form target");
                assert_eq!(again.version, head.version);
                let host = again.header("host").expect("a Host header");
                let want = Destination::parse_authority(
                    std::str::from_utf8(host).expect("Host is ASCII"),
                    Some(80),
                );
                assert_eq!(want.as_ref(), Some(&dest), "Host names the destination");
                assert!(
                    again.proxy_credentials().is_none(),
                    "credentials never reach the origin"
                );
                assert_eq!(
                    BodyLength::of_request(&again).ok(),
                    framing,
                    "the origin frames the body as we do"
                );
                assert!(
                    again.header("transfer-encoding").is_none()
                        || again.header("content-length").is_none(),
                    "never both framings"
                );
            }
        }
        Ok(RequestTarget::Tunnel(dest)) => {
            check_destination(&dest);
            let out = http::connect_request(&dest, Some(("user", "pass")));
            let again = reparse(&out, http::parse_request, "upstream CONNECT");
            assert_eq!(again.target().ok(), Some(RequestTarget::Tunnel(dest)));
        }
        Err(_) => {}
    }
}

fn response_side(data: &[u8], step: u8) {
    let Ok(Some(head)) = http::parse_response(&data[..data.len().min(MAX_HEAD)]) else {
        return;
    };
    for method in ["GET", "HEAD"] {
        let framing = BodyLength::of_response(method, &head).ok();
        for close in [false, true] {
            for version in [0, 1] {
                let out = head.to_client(version, close);
                let again = reparse(&out, http::parse_response, "relayed response");
                assert_eq!(again.status, head.status);
                let relayed = BodyLength::of_response(method, &again).ok();
                assert_eq!(relayed, framing, "the client frames the body as we do");
            }
        }
    }
    let mut src = Buffered::new(Peer::new(data, step));
    if let Ok(head) = block_on(http::read_response(&mut src, MAX_HEAD))
        && let Ok(len) = BodyLength::of_response("GET", &head)
    {
        check_body(src, len, step);
    }
}

fn reparse<T>(out: &[u8], parse: fn(&[u8]) -> Result<Option<T>, HeadError>, what: &str) -> T {
    match parse(out) {
        Ok(Some(h)) => h,
        other => panic!(
            "{what} we wrote does not parse ({}): {:?}",
            match other {
                Ok(_) => "incomplete".to_owned(),
                Err(e) => e.to_string(),
            },
            String::from_utf8_lossy(out)
        ),
    }
}

/// Copies the body that follows a head and checks it went through verbatim.
fn check_body(mut src: Buffered<Peer<'_>>, len: BodyLength, step: u8) {
    let before: Vec<u8> = src
        .buffer()
        .iter()
        .chain(src.get_ref().input)
        .copied()
        .collect();
    let mut out = Peer::new(&[], step);
    let counted = std::sync::atomic::AtomicU64::new(0);
    let count = |n: u64| {
        counted.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    };
    let copied = block_on(http::copy_body(
        &mut src,
        &mut out,
        b"HEAD".to_vec(),
        len,
        Duration::from_secs(60),
        &count,
    ));
    let written = out.output;
    assert_eq!(counted.into_inner(), written.len() as u64, "exact metering");
    let body = written.strip_prefix(b"HEAD").unwrap_or(&written);
    assert!(before.starts_with(body), "bodies are copied verbatim");
    if copied.is_ok() {
        let left = src.buffer().len() + src.get_ref().input.len();
        assert_eq!(body.len() + left, before.len(), "nothing lost or invented");
        if let BodyLength::Exact(n) = len {
            assert_eq!(body.len() as u64, n);
        }
    }
}

fn check_destination(dest: &Destination) {
    assert_ne!(dest.port, 0);
    let text = dest.to_string();
    assert_eq!(
        Destination::parse_authority(&text, None).as_ref(),
        Some(dest),
        "{text} reads back"
    );
}

/// The fuzzing authenticator: user `alice` (with any parameters) and password `pw`; the
/// first input byte says whether the directory is loaded and the source is allowlisted.
struct FakeAuth {
    allowlisted: bool,
}

impl Authenticator for FakeAuth {
    type Found = Option<ProxyUsername>;
    type Refusal = ();

    fn password(&mut self, user: &str, pass: &str) -> Result<Self::Found, ()> {
        if ProxyUsername::account_part(user) == "alice" && pass == "pw" {
            Ok(ProxyUsername::parse(user).ok())
        } else {
            Err(())
        }
    }

    fn no_password(&mut self) -> Option<Self::Found> {
        self.allowlisted.then_some(None)
    }
}

/// Fuzz target `socks5_handshake`: byte 0 picks the side and setup (bit 0: directory loaded,
/// bit 1: source allowlisted, bit 2: play the client against an upstream's answers instead),
/// byte 1 how many bytes arrive per read; the rest is what the peer sends.
pub fn socks5_handshake(data: &[u8]) {
    let [mode, step, data @ ..] = data else {
        return;
    };
    let mut peer = Peer::new(data, *step);
    if mode & 4 != 0 {
        return socks5_client(&mut peer, *mode);
    }
    let auth = (mode & 1 != 0).then_some(FakeAuth {
        allowlisted: mode & 2 != 0,
    });
    let result = block_on(socks5::accept(&mut peer, auth));
    let sent = peer.output;
    match result {
        Ok(Accepted::Connect(_, dest)) => {
            assert_ne!(dest.port, 0);
            assert!(
                sent.starts_with(&[5, socks5::METHOD_USERPASS, 1, 0])
                    || sent == [5, socks5::METHOD_NONE],
                "a method was chosen (and the password accepted) before the request: {sent:?}"
            );
            // What we pass on to an upstream SOCKS5 exit reads back the same.
            let answer = [5, 0, 5, 0, 0, 1, 127, 0, 0, 1, 0, 80];
            let mut upstream = Peer::new(&answer, 255);
            block_on(socks5::client_connect(&mut upstream, &dest, None)).expect("upstream OK");
            // after the greeting `5 1 0` comes the request
            let mut reread = Peer::new(&upstream.output[3..], 255);
            let decoded = block_on(socks5::read_request(&mut reread)).expect("re-read");
            assert_eq!(decoded, dest, "the address survives encoding");
        }
        Ok(Accepted::NotReady) => assert_eq!(sent, [5, socks5::METHOD_REJECT]),
        Ok(Accepted::NoMethod) => assert_eq!(sent, [5, socks5::METHOD_REJECT]),
        Ok(Accepted::Refused(())) => assert_eq!(sent, [5, socks5::METHOD_USERPASS, 1, 1]),
        Err(e) => {
            let _ = e.reply_code();
        }
    }
}

fn socks5_client(peer: &mut Peer<'_>, mode: u8) {
    let dest = Destination::from_host("example.com", 443).expect("a valid name");
    let credentials = (mode & 8 != 0).then_some(("user", "pass"));
    match block_on(socks5::client_connect(peer, &dest, credentials)) {
        Ok(()) | Err(SocksError::Reply(_)) => {
            assert!(peer.output.len() >= 3, "a request was sent");
        }
        Err(_) => {}
    }
}

/// The proxy username grammar: whatever parses formats back to a username that parses to the
/// same value (parse → format → parse), the account part is what `account_part` finds, and a
/// refusal never panics.
pub fn username(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let account = ProxyUsername::account_part(raw);
    let Ok(parsed) = ProxyUsername::parse(raw) else {
        return;
    };
    assert_eq!(parsed.user, account, "{raw:?}");
    assert!(!parsed.user.contains('-'), "{raw:?}");
    let formatted = parsed.to_string();
    let again = ProxyUsername::parse(&formatted)
        .unwrap_or_else(|e| panic!("{raw:?} formats as {formatted:?}, which fails: {e}"));
    assert_eq!(again, parsed, "{raw:?} → {formatted:?}");
    assert_eq!(again.to_string(), formatted);
}

/// The destination parser, as the HTTP front (authority form) and the SOCKS5 front (a domain
/// name) use it: parse → format → parse gives the same destination; every numeric IPv4 form is
/// an address, never a name; a name is lower-case DNS syntax whose last label is not numeric;
/// and the destination policy's verdict on a literal does not depend on its spelling.
pub fn destination(data: &[u8]) {
    let Some((&port_byte, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let parsed = [
        Destination::parse_authority(text, Some(80)),
        Destination::from_host(text, 1024 + u16::from(port_byte)),
    ];
    for dest in parsed.into_iter().flatten() {
        let formatted = dest.to_string();
        let again = Destination::parse_authority(&formatted, None)
            .unwrap_or_else(|| panic!("{text:?} formats as {formatted:?}, which fails"));
        assert_eq!(again, dest, "{text:?} → {formatted:?}");
        match &dest.host {
            crate::destination::Host::Name(name) => {
                assert_eq!(*name, name.to_ascii_lowercase());
                let bare = name.strip_suffix('.').unwrap_or(name);
                let last = bare.rsplit('.').next().unwrap_or(bare);
                assert!(
                    crate::destination::parse_ipv4_numeric(last).is_none(),
                    "{text:?}: numeric last label {last:?} kept as a name"
                );
            }
            crate::destination::Host::Ip(std::net::IpAddr::V4(ip)) => {
                // the canonical spelling parses to the same address
                let canonical = Destination::from_host(&ip.to_string(), dest.port);
                assert_eq!(canonical.as_ref(), Some(&dest));
            }
            crate::destination::Host::Ip(_) => {}
        }
    }
}
