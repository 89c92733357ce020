//! Test harness: an in-memory directory, a recording usage sink, a local HTTP origin, a TCP
//! echo server, gateways on 127.0.0.1:0, and small raw clients. Everything stays on loopback.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proxy::{
    AccountEntry, BoxError, Directory, DirectorySnapshot, ExitEntry, ExitKind, Gateway,
    GatewayConfig, GatewayHandle, PlanLimits, UsageBatch, UsageRecord, UsageSink,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

mod clients;
pub use clients::*;
use tokio_util::sync::CancellationToken;

/// Runs a test body with a hard deadline.
pub async fn bounded<F: std::future::Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("test exceeded its time bound")
}

/// Moves tokio's clock `d` ahead without waiting: paused, advanced (timers due by then fire),
/// and left running again. The gateway times sessions, breakers, its flushes and its
/// statistics samples by this clock. Only on the current-thread runtime of `#[tokio::test]`.
pub async fn pass(d: Duration) {
    tokio::time::pause();
    tokio::time::advance(d).await;
    tokio::time::resume();
}

// ---------------------------------------------------------------- directory and sink

#[derive(Clone, Default)]
pub struct MemDirectory {
    pub snapshot: Arc<Mutex<DirectorySnapshot>>,
    pub failing: Arc<AtomicBool>,
    pub loads: Arc<AtomicUsize>,
}

impl MemDirectory {
    pub fn new(accounts: Vec<AccountEntry>, exits: Vec<ExitEntry>) -> Self {
        let d = Self::default();
        *d.snapshot.lock().expect("lock") = DirectorySnapshot { accounts, exits };
        d
    }

    pub fn update(&self, f: impl FnOnce(&mut DirectorySnapshot)) {
        f(&mut self.snapshot.lock().expect("lock"));
    }
}

impl Directory for MemDirectory {
    async fn snapshot(&self) -> Result<DirectorySnapshot, BoxError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            return Err("directory unavailable".into());
        }
        Ok(self.snapshot.lock().expect("lock").clone())
    }
}

#[derive(Clone, Default)]
pub struct RecordingSink {
    pub records: Arc<Mutex<Vec<UsageRecord>>>,
    pub failures_left: Arc<AtomicUsize>,
    pub calls: Arc<AtomicUsize>,
}

impl UsageSink for RecordingSink {
    async fn flush(&self, batch: UsageBatch) -> Result<(), BoxError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.failures_left.load(Ordering::SeqCst) > 0 {
            self.failures_left.fetch_sub(1, Ordering::SeqCst);
            return Err("database down".into());
        }
        self.records.lock().expect("lock").extend(batch.records);
        Ok(())
    }
}

impl RecordingSink {
    pub fn records(&self) -> Vec<UsageRecord> {
        self.records.lock().expect("lock").clone()
    }

    /// Sums of (bytes_up, bytes_down, requests, errors) for an account.
    pub fn totals(&self, account_id: i64) -> (u64, u64, u64, u64) {
        self.records()
            .iter()
            .filter(|r| r.account_id == account_id)
            .fold((0, 0, 0, 0), |t, r| {
                (
                    t.0 + r.bytes_up,
                    t.1 + r.bytes_down,
                    t.2 + r.requests,
                    t.3 + r.errors,
                )
            })
    }
}

pub fn unlimited() -> PlanLimits {
    PlanLimits {
        requests_per_second: 1_000_000,
        max_connections: 100_000,
        bandwidth_bytes: None,
        bytes_used: 0,
        period_start_ms: 0,
    }
}

pub fn account(id: i64, username: &str, password: &str, plan: Option<PlanLimits>) -> AccountEntry {
    AccountEntry {
        account_id: id,
        username: username.into(),
        password: password.into(),
        allowlist: vec![],
        plan,
    }
}

pub fn exit(id: i64, url: &str, country: &str) -> ExitEntry {
    let kind = if url.starts_with("socks5") {
        ExitKind::Socks5
    } else {
        ExitKind::Http
    };
    ExitEntry {
        id,
        url: url::Url::parse(url).expect("exit url"),
        kind,
        country: Some(country.into()),
        city: None,
        pool: "default".into(),
        enabled: true,
        weight: 1,
        forward_names: false,
    }
}

// ---------------------------------------------------------------- gateways

pub fn test_config() -> GatewayConfig {
    GatewayConfig {
        allow_private_destinations: true,
        health_interval: None,
        refresh_interval: Duration::from_millis(200),
        flush_interval: Duration::from_secs(3600),
        connect_timeout: Duration::from_secs(3),
        head_timeout: Duration::from_secs(3),
        drain_timeout: Duration::from_secs(2),
        ..GatewayConfig::default()
    }
}

pub struct TestGateway {
    pub http: SocketAddr,
    pub socks: SocketAddr,
    pub handle: GatewayHandle,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<()>,
    pub dir: MemDirectory,
    pub sink: RecordingSink,
}

impl TestGateway {
    pub async fn start(config: GatewayConfig, dir: MemDirectory) -> TestGateway {
        let http = TcpListener::bind("127.0.0.1:0").await.expect("bind http");
        let socks = TcpListener::bind("127.0.0.1:0").await.expect("bind socks");
        Self::start_on(config, dir, http, socks).await
    }

    pub async fn start_on(
        config: GatewayConfig,
        dir: MemDirectory,
        http: TcpListener,
        socks: TcpListener,
    ) -> TestGateway {
        Self::start_with(config, dir, http, socks, |gw| gw).await
    }

    /// Like [`TestGateway::start_on`], with `build` finishing the gateway before it runs
    /// (cluster tests give it shared state).
    pub async fn start_with(
        config: GatewayConfig,
        dir: MemDirectory,
        http: TcpListener,
        socks: TcpListener,
        build: impl FnOnce(Gateway) -> Gateway,
    ) -> TestGateway {
        let sink = RecordingSink::default();
        let gw = build(Gateway::from_listeners(
            config,
            http,
            socks,
            dir.clone(),
            sink.clone(),
        ));
        let (http, socks, handle) = (gw.http_addr(), gw.socks_addr(), gw.handle());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(gw.run(shutdown.clone()));
        TestGateway {
            http,
            socks,
            handle,
            shutdown,
            task,
            dir,
            sink,
        }
    }

    /// A gateway in direct mode with one unlimited account `up:uppw`, to serve as an upstream.
    pub async fn upstream() -> TestGateway {
        let dir = MemDirectory::new(vec![account(1, "up", "uppw", Some(unlimited()))], vec![]);
        TestGateway::start(test_config(), dir).await
    }

    pub fn http_url(&self, user: &str, pass: &str) -> String {
        format!("http://{user}:{pass}@{}", self.http)
    }

    /// Stops the gateway and waits for `run` to return (final flush included).
    pub async fn stop(self) -> RecordingSink {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("run returned in time")
            .expect("run did not panic");
        self.sink
    }

    pub fn requests_served(&self) -> u64 {
        self.handle.stats().snapshot().global.requests_total
    }
}

// ---------------------------------------------------------------- origin and echo

/// A small HTTP/1.1 origin: `GET /bytes/N` answers N bytes, `POST /echo` echoes the body
/// (Content-Length or chunked), `GET /slow` never answers, `GET /then-close/N` answers and
/// closes silently, `GET /chunked/N` answers N bytes chunked, `GET /headers` answers the
/// request head it received. Counts every byte exactly.
#[derive(Clone)]
pub struct Origin {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
    pub bytes_in: Arc<AtomicU64>,
    pub bytes_out: Arc<AtomicU64>,
}

impl Origin {
    pub async fn start() -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind origin");
        let o = Origin {
            addr: listener.local_addr().expect("addr"),
            connections: Arc::default(),
            bytes_in: Arc::default(),
            bytes_out: Arc::default(),
        };
        let me = o.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                me.connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(me.clone().serve(s));
            }
        });
        o
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn read_more(&self, s: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
        let mut chunk = [0u8; 16384];
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.bytes_in.fetch_add(n as u64, Ordering::SeqCst);
                buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    async fn serve(self, mut s: TcpStream) {
        let mut buf = Vec::new();
        loop {
            let (method, path, close, body_len, chunked, head_len) = loop {
                let mut headers = [httparse::EMPTY_HEADER; 64];
                let mut req = httparse::Request::new(&mut headers);
                match req.parse(&buf) {
                    Ok(httparse::Status::Complete(n)) => {
                        let get = |name: &str| {
                            req.headers
                                .iter()
                                .find(|h| h.name.eq_ignore_ascii_case(name))
                                .map(|h| String::from_utf8_lossy(h.value).to_lowercase())
                        };
                        let close = get("connection").is_some_and(|v| v.contains("close"))
                            || req.version == Some(0);
                        let len = get("content-length")
                            .and_then(|v| v.parse::<usize>().ok())
                            .unwrap_or(0);
                        let chunked =
                            get("transfer-encoding").is_some_and(|v| v.contains("chunked"));
                        break (
                            req.method.unwrap_or("").to_owned(),
                            req.path.unwrap_or("").to_owned(),
                            close,
                            len,
                            chunked,
                            n,
                        );
                    }
                    Ok(httparse::Status::Partial) => {
                        if !self.read_more(&mut s, &mut buf).await {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            };
            let head_text = String::from_utf8_lossy(&buf[..head_len]).into_owned();
            buf.drain(..head_len);
            let body: Vec<u8> = if chunked {
                while !buf.windows(5).any(|w| w == b"0\r\n\r\n") {
                    if !self.read_more(&mut s, &mut buf).await {
                        return;
                    }
                }
                let end = buf
                    .windows(5)
                    .position(|w| w == b"0\r\n\r\n")
                    .map(|p| p + 5)
                    .unwrap_or(buf.len());
                let raw: Vec<u8> = buf.drain(..end).collect();
                decode_chunked(&raw)
            } else {
                while buf.len() < body_len {
                    if !self.read_more(&mut s, &mut buf).await {
                        return;
                    }
                }
                buf.drain(..body_len).collect()
            };
            // `/then-close/N`: like `/bytes/N`, then the origin closes without having said so
            let (path, close_after) = match path.strip_prefix("/then-close/") {
                Some(n) => (format!("/bytes/{n}"), true),
                None => (path, false),
            };
            let payload: Vec<u8> = if let Some(n) = path.strip_prefix("/bytes/") {
                vec![b'x'; n.parse().unwrap_or(0)]
            } else if path == "/echo" {
                body
            } else if path == "/headers" {
                head_text.clone().into_bytes()
            } else if path == "/slow" {
                tokio::time::sleep(Duration::from_secs(30)).await;
                return;
            } else {
                b"not found".to_vec()
            };
            let status = if path.starts_with("/bytes/") || path == "/echo" || path == "/headers" {
                "200 OK"
            } else {
                "404 Not Found"
            };
            if let Some(n) = path.strip_prefix("/chunked/") {
                // the body in chunks of at most 1000 bytes, with a trailer
                let mut out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                let mut left: usize = n.parse().unwrap_or(0);
                while left > 0 {
                    let k = left.min(1000);
                    out.extend_from_slice(format!("{k:x}\r\n").as_bytes());
                    out.extend(std::iter::repeat_n(b'c', k));
                    out.extend_from_slice(b"\r\n");
                    left -= k;
                }
                out.extend_from_slice(b"0\r\nX-Trailer: yes\r\n\r\n");
                if s.write_all(&out).await.is_err() {
                    return;
                }
                self.bytes_out.fetch_add(out.len() as u64, Ordering::SeqCst);
                continue;
            }
            let mut out = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nX-Method: {method}\r\n{}\r\n",
                payload.len(),
                if close { "Connection: close\r\n" } else { "" }
            )
            .into_bytes();
            if method != "HEAD" {
                out.extend_from_slice(&payload);
            }
            if s.write_all(&out).await.is_err() {
                return;
            }
            self.bytes_out.fetch_add(out.len() as u64, Ordering::SeqCst);
            if close || close_after {
                let _ = s.shutdown().await;
                return;
            }
        }
    }
}

fn decode_chunked(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(pos) = raw.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(
            std::str::from_utf8(&raw[..pos])
                .unwrap_or("0")
                .split(';')
                .next()
                .unwrap_or("0")
                .trim(),
            16,
        )
        .unwrap_or(0);
        raw = &raw[pos + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

/// A TCP echo server counting the bytes it got.
#[derive(Clone)]
pub struct Echo {
    pub addr: SocketAddr,
    pub bytes: Arc<AtomicU64>,
}

impl Echo {
    pub async fn start() -> Echo {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind echo");
        let e = Echo {
            addr: listener.local_addr().expect("addr"),
            bytes: Arc::default(),
        };
        let bytes = e.bytes.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let bytes = bytes.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 65536];
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                bytes.fetch_add(n as u64, Ordering::SeqCst);
                                if s.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        e
    }
}

/// A server that accepts connections and never says a word (a hanging upstream).
pub async fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind silent");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    addr
}

/// A loopback port nothing listens on.
pub async fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    l.local_addr().expect("addr")
}
