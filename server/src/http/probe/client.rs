//! The probe's client side, by hand on tokio: a tunnel through our own gateway (HTTP `CONNECT`
//! with `Proxy-Authorization: Basic`, or the SOCKS5 handshake with username and password),
//! then one `GET` through it (over TLS for an https target), timed like curl times it: the
//! tunnel open and the first byte of the answer, each counted from the start.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, pki_types::ServerName};
use url::Url;

/// The whole probe, tunnel and answer, must be done within this.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer head read from the gateway or the target.
const MAX_HEAD: usize = 16 * 1024;
/// How much of the target's answer is read (the echo is tiny; anything else is cut here).
const MAX_ANSWER: usize = 16 * 1024;

/// Which of the gateway's ports the probe goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Http,
    Socks5,
}

/// Where the probe goes: the parts of an `http(s)://` URL the request needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, at least `/`.
    pub path: String,
}

impl Target {
    /// The target of `url`: `http` or `https` with a host.
    pub fn of(url: &Url) -> Result<Target, String> {
        let tls = match url.scheme() {
            "http" => false,
            "https" => true,
            other => return Err(format!("scheme \"{other}\" is not http or https")),
        };
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err("has no host".to_owned()),
        };
        let port = url
            .port_or_known_default()
            .ok_or_else(|| "has no port".to_owned())?;
        let mut path = url.path().to_owned();
        if path.is_empty() {
            path.push('/');
        }
        if let Some(query) = url.query() {
            path.push('?');
            path.push_str(query);
        }
        Ok(Target {
            tls,
            host,
            port,
            path,
        })
    }

    /// `host:port` as a CONNECT request and a `Host` header write it (IPv6 in brackets).
    pub fn authority(&self) -> String {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(ip)) => format!("[{ip}]:{}", self.port),
            _ => format!("{}:{}", self.host, self.port),
        }
    }
}

/// What a probe that went through saw.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The exit the gateway used, from `X-Atlantic-Exit` (`0`: direct egress); `None` when
    /// not reported (SOCKS5, or a gateway without the header).
    pub exit_id: Option<i64>,
    /// From the start until the tunnel was open.
    pub connect_ms: u64,
    /// From the start until the first byte of the target's answer.
    pub first_byte_ms: u64,
    /// The target's status line, `HTTP/1.1 200 OK`.
    pub status_line: String,
    /// The status code.
    pub status: u16,
    /// The answer's body as far as it was read (at most [`MAX_ANSWER`] with the head).
    pub body: Vec<u8>,
}

/// Why a probe did not go through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The gateway refused the tunnel: its error code (`X-Atlantic-Error`, or the SOCKS5
    /// reply's meaning), and what it said.
    Refused {
        code: Option<String>,
        said: String,
        retry_after: Option<u64>,
    },
    /// The gateway could not be reached or broke the protocol.
    Gateway(String),
    /// The tunnel opened but the target's answer failed (TLS, a closed connection, garbage).
    Target(String),
    /// Nothing within [`TOTAL_TIMEOUT`]; `stage` says where it stalled.
    Timeout { stage: &'static str },
}

/// Sends one probe through `gateway` as `username`:`password` to `target`.
pub async fn run(
    protocol: Protocol,
    gateway: SocketAddr,
    username: &str,
    password: &str,
    target: &Target,
) -> Result<Seen, Failure> {
    let started = Instant::now();
    let mut stage = "connecting to the gateway";
    let attempt = probe(
        protocol, gateway, username, password, target, started, &mut stage,
    );
    let outcome = tokio::time::timeout(TOTAL_TIMEOUT, attempt).await;
    match outcome {
        Ok(result) => result,
        Err(_) => Err(Failure::Timeout { stage }),
    }
}

fn ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

async fn probe(
    protocol: Protocol,
    gateway: SocketAddr,
    username: &str,
    password: &str,
    target: &Target,
    started: Instant,
    stage: &mut &'static str,
) -> Result<Seen, Failure> {
    let mut stream = TcpStream::connect(gateway)
        .await
        .map_err(|e| Failure::Gateway(format!("cannot connect to the gateway: {e}")))?;
    let _ = stream.set_nodelay(true);
    *stage = "opening the tunnel";
    let exit_id = match protocol {
        Protocol::Http => http_connect(&mut stream, username, password, target).await?,
        Protocol::Socks5 => {
            socks5_connect(&mut stream, username, password, target).await?;
            None
        }
    };
    let connect_ms = ms(started);
    *stage = "waiting for the target's answer";
    let (first_byte_ms, answer) = if target.tls {
        let name = ServerName::try_from(target.host.clone())
            .map_err(|e| Failure::Target(format!("\"{}\" is no TLS name: {e}", target.host)))?;
        let tls = TlsConnector::from(tls_config())
            .connect(name, stream)
            .await
            .map_err(|e| Failure::Target(format!("TLS handshake failed: {e}")))?;
        exchange(tls, target, started).await?
    } else {
        exchange(stream, target, started).await?
    };
    let (status_line, status, body) = split_answer(&answer)?;
    Ok(Seen {
        exit_id,
        connect_ms,
        first_byte_ms,
        status_line,
        status,
        body,
    })
}

/// The web roots reqwest trusts too, with ring (the provider the workspace already builds).
fn tls_config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|b| b.with_root_certificates(roots).with_no_client_auth())
                .unwrap_or_else(|_| {
                    // ring's defaults always include a protocol version; unreachable
                    ClientConfig::builder()
                        .with_root_certificates(RootCertStore::empty())
                        .with_no_client_auth()
                });
            Arc::new(config)
        })
        .clone()
}

/// `CONNECT` with Basic credentials; the exit from the `200`'s `X-Atlantic-Exit`.
async fn http_connect(
    stream: &mut TcpStream,
    username: &str,
    password: &str,
    target: &Target,
) -> Result<Option<i64>, Failure> {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    let authority = target.authority();
    let request = format!(
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nProxy-Authorization: Basic \
         {auth}\r\nUser-Agent: atlantic-probe\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| Failure::Gateway(format!("sending CONNECT failed: {e}")))?;
    let (head, rest) = read_head(stream)
        .await
        .map_err(|e| Failure::Gateway(format!("reading the gateway's answer failed: {e}")))?;
    let head = Head::parse(&head).ok_or_else(|| {
        Failure::Gateway("the gateway's answer is not an HTTP response".to_owned())
    })?;
    if head.status != 200 {
        // the refusal's one-line body says why (it is short; take what already came)
        let said = String::from_utf8_lossy(&rest).trim().to_owned();
        let said = if said.is_empty() {
            head.status_line.clone()
        } else {
            said
        };
        return Err(Failure::Refused {
            code: head.header("x-atlantic-error").map(str::to_owned),
            said,
            retry_after: head.header("retry-after").and_then(|v| v.parse().ok()),
        });
    }
    if !rest.is_empty() {
        return Err(Failure::Gateway(
            "the gateway sent bytes after its 200 before the target spoke".to_owned(),
        ));
    }
    Ok(head.header("x-atlantic-exit").and_then(|v| v.parse().ok()))
}

/// The SOCKS5 handshake (RFC 1928) with username and password (RFC 1929), then CONNECT.
async fn socks5_connect(
    stream: &mut TcpStream,
    username: &str,
    password: &str,
    target: &Target,
) -> Result<(), Failure> {
    let broken = |e: std::io::Error| Failure::Gateway(format!("SOCKS5 handshake failed: {e}"));
    stream.write_all(&[5, 1, 2]).await.map_err(broken)?;
    let mut choice = [0u8; 2];
    stream.read_exact(&mut choice).await.map_err(broken)?;
    if choice != [5, 2] {
        return Err(Failure::Gateway(format!(
            "the gateway did not accept username and password (method {:#04x})",
            choice[1]
        )));
    }
    let mut auth = vec![1];
    for field in [username, password] {
        let len = u8::try_from(field.len())
            .map_err(|_| Failure::Gateway("a credential is longer than 255 bytes".to_owned()))?;
        auth.push(len);
        auth.extend_from_slice(field.as_bytes());
    }
    stream.write_all(&auth).await.map_err(broken)?;
    let mut status = [0u8; 2];
    stream.read_exact(&mut status).await.map_err(broken)?;
    if status[1] != 0 {
        return Err(Failure::Refused {
            code: Some(wire::ErrorCode::BadCredentials.as_str().to_owned()),
            said: "the gateway refused the username or password".to_owned(),
            retry_after: None,
        });
    }
    let mut request = vec![5, 1, 0];
    match target.host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            request.push(1);
            request.extend_from_slice(&ip.octets());
        }
        Ok(IpAddr::V6(ip)) => {
            request.push(4);
            request.extend_from_slice(&ip.octets());
        }
        Err(_) => {
            let len = u8::try_from(target.host.len())
                .map_err(|_| Failure::Target("the host name is too long".to_owned()))?;
            request.push(3);
            request.push(len);
            request.extend_from_slice(target.host.as_bytes());
        }
    }
    request.extend_from_slice(&target.port.to_be_bytes());
    stream.write_all(&request).await.map_err(broken)?;
    let mut reply = [0u8; 4];
    stream.read_exact(&mut reply).await.map_err(broken)?;
    // the bound address follows even on a refusal; read it so nothing is left over
    let address_len = match reply[3] {
        1 => 4,
        4 => 16,
        3 => {
            let mut len = [0u8; 1];
            stream.read_exact(&mut len).await.map_err(broken)?;
            usize::from(len[0])
        }
        other => {
            return Err(Failure::Gateway(format!(
                "unknown SOCKS5 address type {other:#04x}"
            )));
        }
    };
    let mut bound = vec![0u8; address_len + 2];
    stream.read_exact(&mut bound).await.map_err(broken)?;
    if reply[1] != 0 {
        let (code, said) = socks_reply_meaning(reply[1]);
        return Err(Failure::Refused {
            code: code.map(str::to_owned),
            said: said.to_owned(),
            retry_after: None,
        });
    }
    Ok(())
}

/// What a SOCKS5 refusal means in our codes: a reply code stands for several of them, so only
/// the unambiguous ones get a code; `0x02` is any refusal by the gateway's rules.
pub fn socks_reply_meaning(reply: u8) -> (Option<&'static str>, &'static str) {
    match reply {
        0x01 => (
            Some("upstream_failed"),
            "general failure (0x01): no exit could reach the target",
        ),
        0x02 => (
            None,
            "connection not allowed by ruleset (0x02): quota, rate limit, blocked destination or \
             targeting; the HTTP port names the exact cause",
        ),
        0x03 => (
            Some("no_exit"),
            "network unreachable (0x03): no healthy exit matches the targeting",
        ),
        0x04 => (
            Some("connect_timeout"),
            "host unreachable (0x04): the target did not answer in time",
        ),
        0x05 => (
            Some("upstream_failed"),
            "connection refused (0x05) by the target",
        ),
        _ => (None, "the gateway refused the connection"),
    }
}

/// Reads up to the end of an answer head; returns the head and what came after it.
async fn read_head<S: AsyncRead + Unpin>(s: &mut S) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = find_head_end(&buf) {
            let rest = buf.split_off(end);
            return Ok((buf, rest));
        }
        if buf.len() > MAX_HEAD {
            return Err(std::io::Error::other("answer head too large"));
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Sends the `GET` and reads the answer (capped); the first byte's time is counted from
/// `started`.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    target: &Target,
    started: Instant,
) -> Result<(u64, Vec<u8>), Failure> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: atlantic-probe\r\nAccept: \
         application/json, */*\r\nConnection: close\r\n\r\n",
        path = target.path,
        host = if (target.tls && target.port == 443) || (!target.tls && target.port == 80) {
            target.host.clone()
        } else {
            target.authority()
        },
    );
    s.write_all(request.as_bytes())
        .await
        .map_err(|e| Failure::Target(format!("sending the request failed: {e}")))?;
    let mut answer = Vec::with_capacity(2048);
    let mut chunk = [0u8; 4096];
    let mut first_byte_ms = None;
    while answer.len() < MAX_ANSWER {
        match s.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => {
                first_byte_ms.get_or_insert_with(|| ms(started));
                answer.extend_from_slice(&chunk[..n]);
                if complete(&answer) {
                    break;
                }
            }
            // a TLS peer that closes without close_notify: what came is the answer
            Err(_) if !answer.is_empty() => break,
            Err(e) => return Err(Failure::Target(format!("reading the answer failed: {e}"))),
        }
    }
    answer.truncate(MAX_ANSWER);
    let first_byte_ms = first_byte_ms
        .ok_or_else(|| Failure::Target("the target closed without answering".to_owned()))?;
    Ok((first_byte_ms, answer))
}

/// Whether `answer` holds a whole head and the `Content-Length` it announces.
fn complete(answer: &[u8]) -> bool {
    let Some(end) = find_head_end(answer) else {
        return false;
    };
    Head::parse(&answer[..end])
        .and_then(|h| {
            h.header("content-length")
                .and_then(|v| v.parse::<usize>().ok())
        })
        .is_some_and(|len| answer.len() >= end + len)
}

/// The status line, status and body of an answer.
fn split_answer(answer: &[u8]) -> Result<(String, u16, Vec<u8>), Failure> {
    let end = find_head_end(answer)
        .ok_or_else(|| Failure::Target("the answer has no complete HTTP head".to_owned()))?;
    let head = Head::parse(&answer[..end])
        .ok_or_else(|| Failure::Target("the answer is not HTTP".to_owned()))?;
    Ok((head.status_line, head.status, answer[end..].to_vec()))
}

/// A parsed answer head.
struct Head {
    status_line: String,
    status: u16,
    headers: Vec<(String, String)>,
}

impl Head {
    fn parse(raw: &[u8]) -> Option<Head> {
        let text = std::str::from_utf8(raw).ok()?;
        let mut lines = text.split("\r\n");
        let status_line = lines.next()?.trim().to_owned();
        let mut parts = status_line.splitn(3, ' ');
        if !parts.next()?.starts_with("HTTP/1.") {
            return None;
        }
        let status = parts.next()?.parse().ok()?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Some(Head {
            status_line,
            status,
            headers,
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_take_http_and_https_urls() {
        let t = Target::of(&Url::parse("https://echo.example.com/ip?x=1").expect("url"))
            .expect("target");
        assert_eq!(
            t,
            Target {
                tls: true,
                host: "echo.example.com".into(),
                port: 443,
                path: "/ip?x=1".into()
            }
        );
        let t = Target::of(&Url::parse("http://[::1]:3000").expect("url")).expect("target");
        assert_eq!(t.authority(), "[::1]:3000");
        assert_eq!(t.path, "/");
        assert!(Target::of(&Url::parse("ftp://example.com/").expect("url")).is_err());
    }

    #[test]
    fn heads_parse_and_answers_complete_at_their_length() {
        let raw = b"HTTP/1.1 200 Connection established\r\nX-Atlantic-Exit: 7\r\n\r\n";
        let head = Head::parse(raw).expect("head");
        assert_eq!(head.status, 200);
        assert_eq!(head.header("x-atlantic-exit"), Some("7"));
        assert!(!complete(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab"));
        assert!(complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd"
        ));
        let (line, status, body) =
            split_answer(b"HTTP/1.1 404 Not Found\r\n\r\nnope").expect("answer");
        assert_eq!(
            (line.as_str(), status, body.as_slice()),
            ("HTTP/1.1 404 Not Found", 404, &b"nope"[..])
        );
    }

    #[test]
    fn only_unambiguous_socks_replies_get_a_code() {
        assert_eq!(socks_reply_meaning(0x03).0, Some("no_exit"));
        assert_eq!(socks_reply_meaning(0x02).0, None);
    }
}
