//! `proxybench soak`: many concurrent clients over both proxy ports for a long time, spread over
//! accounts, each counting the bytes it moved per account exactly as the gateway meters them.
//!
//! The mix, by client index (client i is account i % accounts):
//! - 35% long CONNECT tunnels and 35% long SOCKS5 tunnels, open the whole run, trickling an
//!   echo round of 16–1024 bytes every 1–3 s;
//! - 15% keep-alive forward GETs (one every 0.5–2 s, a body of 0–4096 bytes);
//! - 15% churn: a new tunnel (CONNECT and SOCKS5 in turn), one to three echo rounds, a clean
//!   close, then 5–15 s of rest.
//!
//! Counting (the gateway's metering rules): a tunnel counts its payload only, so up is every
//! byte written into it and down every byte read from it (the echo origin returns all, and a
//! tunnel is closed only once its echoes are back). A forward GET counts the request head as
//! the gateway rewrote it (measured where it arrives, by the in-process origin) and the response
//! head and body as relayed (counted by the client as received). Requests: every tunnel opened
//! and every forward request sent.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::http::find;
use crate::proxy::{base64, open_tunnel, Creds, ProxySpec, TunErr};
use crate::soak_origin::{self, OriginCounts};

pub struct Account {
    pub email: String,
    pub user: String,
    pub pass: String,
    tunnel_up: AtomicU64,
    tunnel_down: AtomicU64,
    tunnels: AtomicU64,
    fwd_down: AtomicU64,
    fwd_requests: AtomicU64,
}

pub struct Soak {
    pub http: ProxySpec,
    pub socks: ProxySpec,
    pub accounts: Vec<Account>,
    pub clients: usize,
    pub duration: Duration,
    pub ramp: Duration,
    pub origin_port: u16,
    pub timeout: Duration,
}

#[derive(Default)]
struct Live {
    errors: Mutex<BTreeMap<String, u64>>,
    open_tunnels: AtomicI64,
    open_forward: AtomicI64,
    running: AtomicI64,
    rounds: AtomicU64,
    gets: AtomicU64,
    churned: AtomicU64,
}

impl Live {
    fn error(&self, tag: String) {
        *self
            .errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(tag)
            .or_insert(0) += 1;
    }
    fn errors_total(&self) -> u64 {
        self.errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .sum()
    }
}

/// Reads the accounts file: one `email proxy_username proxy_password` a line.
pub fn read_accounts(path: &str) -> Result<Vec<Account>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut v = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [email, user, pass] = f[..] else {
            return Err(format!("{path}: bad line {line:?}"));
        };
        v.push(Account {
            email: email.into(),
            user: user.into(),
            pass: pass.into(),
            tunnel_up: AtomicU64::new(0),
            tunnel_down: AtomicU64::new(0),
            tunnels: AtomicU64::new(0),
            fwd_down: AtomicU64::new(0),
            fwd_requests: AtomicU64::new(0),
        });
    }
    if v.is_empty() {
        return Err(format!("{path}: no accounts"));
    }
    Ok(v)
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }
}

async fn timed<T>(
    d: Duration,
    f: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(d, f)
        .await
        .unwrap_or_else(|_| Err("timeout".into()))
}

/// One echo round: `n` bytes in, the same `n` back; counted only once both ways are done.
async fn echo_round(
    c: &mut crate::http::Conn,
    a: &Account,
    n: usize,
    fill: u8,
) -> Result<(), String> {
    let data = vec![fill; n];
    c.write_all(&data)
        .await
        .map_err(|e| format!("write:{:?}", e.kind()))?;
    a.tunnel_up.fetch_add(n as u64, Ordering::Relaxed);
    let back = c
        .read_exact_buf(n)
        .await
        .map_err(|e| format!("read:{:?}", e.kind()))?;
    a.tunnel_down
        .fetch_add(back.len() as u64, Ordering::Relaxed);
    if back != data {
        return Err("echo_mismatch".into());
    }
    Ok(())
}

/// Closes a tunnel cleanly: our end of input first, then wait for the origin's.
async fn close_tunnel(mut c: crate::http::Conn) -> Result<(), String> {
    c.s.shutdown()
        .await
        .map_err(|e| format!("shutdown:{:?}", e.kind()))?;
    if c.peer_closed().await {
        Ok(())
    } else {
        Err("bytes_after_close".into())
    }
}

async fn open(
    s: &Soak,
    socks: bool,
    target: SocketAddr,
    a: &Account,
) -> Result<crate::http::Conn, String> {
    let proxy = if socks { &s.socks } else { &s.http };
    let creds = Creds::Explicit(a.user.clone(), a.pass.clone());
    let c = open_tunnel(proxy, target, &creds, 8 * 1024)
        .await
        .map_err(|e: TunErr| {
            format!(
                "open_{}:{}",
                if socks { "socks" } else { "connect" },
                e.tag()
            )
        })?;
    a.tunnels.fetch_add(1, Ordering::Relaxed);
    Ok(c)
}

async fn long_tunnel(
    s: Arc<Soak>,
    live: Arc<Live>,
    i: usize,
    socks: bool,
    end: Instant,
    mut rng: Rng,
) {
    let a = &s.accounts[i % s.accounts.len()];
    let target = SocketAddr::from(([127, 0, 0, 1], s.origin_port));
    let mut c = match timed(s.timeout, open(&s, socks, target, a)).await {
        Ok(c) => c,
        Err(e) => return live.error(e),
    };
    live.open_tunnels.fetch_add(1, Ordering::Relaxed);
    let result = async {
        loop {
            let next = Instant::now() + rng.millis(1000, 3000);
            if next >= end {
                break;
            }
            tokio::time::sleep_until(next.into()).await;
            let n = 16 + rng.below(1009) as usize;
            timed(s.timeout, echo_round(&mut c, a, n, b'a' + (i % 26) as u8)).await?;
            live.rounds.fetch_add(1, Ordering::Relaxed);
        }
        timed(s.timeout, close_tunnel(c)).await
    }
    .await;
    live.open_tunnels.fetch_sub(1, Ordering::Relaxed);
    if let Err(e) = result {
        live.error(format!(
            "long_{}:{e}",
            if socks { "socks" } else { "connect" }
        ));
    }
}

async fn churn(s: Arc<Soak>, live: Arc<Live>, i: usize, end: Instant, mut rng: Rng) {
    let a = &s.accounts[i % s.accounts.len()];
    let target = SocketAddr::from(([127, 0, 0, 1], s.origin_port + 1));
    let mut socks = i.is_multiple_of(2);
    while Instant::now() < end {
        let rounds = 1 + rng.below(3);
        let sizes: Vec<usize> = (0..rounds).map(|_| 16 + rng.below(241) as usize).collect();
        let r = timed(s.timeout, async {
            let mut c = open(&s, socks, target, a).await?;
            for n in sizes {
                echo_round(&mut c, a, n, b'A' + (i % 26) as u8).await?;
            }
            close_tunnel(c).await
        })
        .await;
        match r {
            Ok(()) => {
                live.churned.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => live.error(format!("churn:{e}")),
        }
        socks = !socks;
        let rest = Instant::now() + rng.millis(5000, 15000);
        tokio::time::sleep_until(rest.min(end).into()).await;
    }
}

/// One forward GET on a kept-alive connection; returns the bytes received (head and body).
async fn get(c: &mut TcpStream, buf: &mut Vec<u8>, req: &[u8], body: usize) -> Result<u64, String> {
    c.write_all(req)
        .await
        .map_err(|e| format!("write:{:?}", e.kind()))?;
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        match c.read(&mut chunk).await {
            Ok(0) => return Err("eof_in_head".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("read:{:?}", e.kind())),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head.split(' ').nth(1).unwrap_or("");
    if status != "200" {
        return Err(format!("status_{status}"));
    }
    let len = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        })
        .ok_or("no_content_length")?;
    if len != body {
        return Err(format!("body_{len}_not_{body}"));
    }
    while buf.len() < head_end + len {
        match c.read(&mut chunk).await {
            Ok(0) => return Err("eof_in_body".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("read:{:?}", e.kind())),
        }
    }
    if buf.len() > head_end + len {
        return Err("extra_bytes".into());
    }
    buf.clear();
    Ok((head_end + len) as u64)
}

async fn forward(s: Arc<Soak>, live: Arc<Live>, i: usize, end: Instant, mut rng: Rng) {
    let ai = i % s.accounts.len();
    let a = &s.accounts[ai];
    let Some(proxy) = s.http.addr else { return };
    let auth = base64(format!("{}:{}", a.user, a.pass).as_bytes());
    let origin = format!("127.0.0.1:{}", s.origin_port + 2);
    let mut conn: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(8192);
    while Instant::now() < end {
        if conn.is_none() {
            match timed(s.timeout, async {
                TcpStream::connect(proxy)
                    .await
                    .map_err(|e| format!("connect:{:?}", e.kind()))
            })
            .await
            {
                Ok(c) => {
                    let _ = c.set_nodelay(true);
                    conn = Some(c);
                    live.open_forward.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    live.error(format!("forward:{e}"));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        let body = rng.below(4097) as usize;
        let req = format!("GET http://{origin}/soak?a={ai}&n={body} HTTP/1.1\r\nHost: {origin}\r\nProxy-Authorization: Basic {auth}\r\nUser-Agent: proxybench-soak\r\n\r\n");
        let Some(c) = conn.as_mut() else { continue };
        a.fwd_requests.fetch_add(1, Ordering::Relaxed);
        match timed(s.timeout, get(c, &mut buf, req.as_bytes(), body)).await {
            Ok(n) => {
                a.fwd_down.fetch_add(n, Ordering::Relaxed);
                live.gets.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                live.error(format!("forward:{e}"));
                conn = None;
                buf.clear();
                live.open_forward.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let next = Instant::now() + rng.millis(500, 2000);
        tokio::time::sleep_until(next.min(end).into()).await;
    }
    if conn.is_some() {
        live.open_forward.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs the soak; prints progress every 10 s to stderr and returns (summary, per-account rows).
pub async fn run(s: Soak) -> Result<(Value, Vec<Value>), String> {
    let s = Arc::new(s);
    let counts = Arc::new(OriginCounts::new(s.accounts.len()));
    let bind = |p: u16| async move {
        TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], p)))
            .await
            .map_err(|e| format!("origin port {p}: {e}"))
    };
    soak_origin::spawn_echo(bind(s.origin_port).await?);
    soak_origin::spawn_echo(bind(s.origin_port + 1).await?);
    soak_origin::spawn_http(bind(s.origin_port + 2).await?, counts.clone());
    let live = Arc::new(Live::default());
    let start = Instant::now();
    let end = start + s.ramp + s.duration;
    let mut handles = Vec::with_capacity(s.clients);
    for i in 0..s.clients {
        // Client i starts at i/clients of the ramp, so connections open at an even pace.
        let at = start + s.ramp.mul_f64(i as f64 / s.clients as f64);
        let (s2, l2) = (s.clone(), live.clone());
        let rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9));
        handles.push(tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            l2.running.fetch_add(1, Ordering::Relaxed);
            match i % 20 {
                0..=6 => long_tunnel(s2, l2.clone(), i, false, end, rng).await,
                7..=13 => long_tunnel(s2, l2.clone(), i, true, end, rng).await,
                14..=16 => forward(s2, l2.clone(), i, end, rng).await,
                _ => churn(s2, l2.clone(), i, end, rng).await,
            }
            l2.running.fetch_sub(1, Ordering::Relaxed);
        }));
    }
    let progress = {
        let live = live.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                eprintln!(
                    "soak t={:>4}s clients={} tunnels={} forward_conns={} echo_rounds={} gets={} churned={} errors={}",
                    start.elapsed().as_secs(),
                    live.running.load(Ordering::Relaxed),
                    live.open_tunnels.load(Ordering::Relaxed),
                    live.open_forward.load(Ordering::Relaxed),
                    live.rounds.load(Ordering::Relaxed),
                    live.gets.load(Ordering::Relaxed),
                    live.churned.load(Ordering::Relaxed),
                    live.errors_total()
                );
            }
        })
    };
    // Every client stops at `end`; one still running `timeout` × 3 later is a straggler.
    tokio::time::sleep_until(end.into()).await;
    let stragglers = tokio::time::timeout(s.timeout * 3, async {
        for h in handles {
            let _ = h.await;
        }
    })
    .await
    .is_err();
    progress.abort();
    let mut rows = Vec::new();
    for (ai, a) in s.accounts.iter().enumerate() {
        let fwd_up = counts.head_bytes[ai].load(Ordering::Relaxed);
        let (tu, td) = (
            a.tunnel_up.load(Ordering::Relaxed),
            a.tunnel_down.load(Ordering::Relaxed),
        );
        let fd = a.fwd_down.load(Ordering::Relaxed);
        let (tn, fr) = (
            a.tunnels.load(Ordering::Relaxed),
            a.fwd_requests.load(Ordering::Relaxed),
        );
        rows.push(json!({
            "email": a.email, "bytes_up": tu + fwd_up, "bytes_down": td + fd, "requests": tn + fr,
            "tunnel_up": tu, "tunnel_down": td, "tunnels": tn,
            "forward_up": fwd_up, "forward_down": fd, "forward_requests": fr,
            "origin_forward_requests": counts.requests[ai].load(Ordering::Relaxed),
        }));
    }
    let errors = live
        .errors
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let summary = json!({
        "clients": s.clients, "accounts": s.accounts.len(),
        "duration_s": s.duration.as_secs_f64(), "ramp_s": s.ramp.as_secs_f64(),
        "elapsed_s": (start.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        "echo_rounds": live.rounds.load(Ordering::Relaxed),
        "forward_gets": live.gets.load(Ordering::Relaxed),
        "churned_tunnels": live.churned.load(Ordering::Relaxed),
        "errors_total": errors.values().sum::<u64>(),
        "errors": errors,
        "origin_bad_requests": counts.bad.load(Ordering::Relaxed),
        "stragglers": stragglers,
    });
    Ok((summary, rows))
}
