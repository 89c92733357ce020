//! Steady traffic through the gateway with exact counts: workers open tunnels (CONNECT on the
//! HTTP port and SOCKS5, alternately) to an echo origin, send a chunk, read it back whole,
//! pause, and open a new tunnel every few chunks. A chunk is counted only once its echo is
//! back, so every counted byte was metered up and down by the gateway; a chunk cut short by
//! a fault may be metered and not counted (at most one chunk each way per worker).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Chunks sent over one tunnel before the worker opens another.
const CHUNKS_PER_TUNNEL: usize = 25;
/// How long a worker waits for one step before it counts a failure.
const STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// An origin that echoes everything it reads.
pub async fn echo_origin() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut read, mut write) = socket.into_split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    });
    addr
}

/// Where the workers send their traffic.
#[derive(Clone)]
pub struct Route {
    pub http_proxy: SocketAddr,
    pub socks_proxy: SocketAddr,
    pub origin: SocketAddr,
    pub user: String,
    pub pass: String,
}

/// What the workers counted.
#[derive(Default, Debug)]
pub struct Counted {
    /// Bytes of completed chunks, each way (up equals down: the origin echoes).
    pub bytes: AtomicU64,
    /// Tunnels that failed (refused, cut, or too slow).
    pub failures: AtomicU64,
    /// Tunnels opened.
    pub tunnels: AtomicU64,
}

/// Running workers.
pub struct Traffic {
    pub counted: Arc<Counted>,
    stop: CancellationToken,
    workers: Vec<JoinHandle<()>>,
}

impl Traffic {
    /// Starts `workers` workers, each sending `chunk` bytes every `pace`.
    pub fn start(route: &Route, workers: usize, chunk: usize, pace: Duration) -> Traffic {
        let counted = Arc::new(Counted::default());
        let stop = CancellationToken::new();
        let workers = (0..workers)
            .map(|i| {
                let (route, counted, stop) = (route.clone(), counted.clone(), stop.clone());
                tokio::spawn(async move {
                    worker(&route, i % 2 == 0, chunk, pace, &counted, &stop).await;
                })
            })
            .collect();
        Traffic {
            counted,
            stop,
            workers,
        }
    }

    /// Bytes counted so far, each way.
    pub fn bytes(&self) -> u64 {
        self.counted.bytes.load(Ordering::SeqCst)
    }

    /// Tunnels that failed so far.
    pub fn failures(&self) -> u64 {
        self.counted.failures.load(Ordering::SeqCst)
    }

    /// Lets every worker finish its chunk and close its tunnel; returns the bytes counted.
    pub async fn stop(self) -> u64 {
        self.stop.cancel();
        for worker in self.workers {
            let _ = worker.await;
        }
        self.counted.bytes.load(Ordering::SeqCst)
    }
}

async fn worker(
    route: &Route,
    http: bool,
    chunk: usize,
    pace: Duration,
    counted: &Counted,
    stop: &CancellationToken,
) {
    let payload: Vec<u8> = (0..chunk).map(|i| (i % 251) as u8).collect();
    let mut back = vec![0u8; chunk];
    while !stop.is_cancelled() {
        let opened = tokio::time::timeout(STEP_TIMEOUT, open(route, http)).await;
        let Ok(Ok(mut tunnel)) = opened else {
            counted.failures.fetch_add(1, Ordering::SeqCst);
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
                () = stop.cancelled() => return,
            }
            continue;
        };
        counted.tunnels.fetch_add(1, Ordering::SeqCst);
        for _ in 0..CHUNKS_PER_TUNNEL {
            let round = async {
                tunnel.write_all(&payload).await?;
                tunnel.read_exact(&mut back).await?;
                std::io::Result::Ok(())
            };
            match tokio::time::timeout(STEP_TIMEOUT, round).await {
                Ok(Ok(())) => {
                    assert_eq!(back, payload, "the echo came back changed");
                    counted.bytes.fetch_add(chunk as u64, Ordering::SeqCst);
                }
                _ => {
                    counted.failures.fetch_add(1, Ordering::SeqCst);
                    break;
                }
            }
            tokio::select! {
                () = tokio::time::sleep(pace) => {}
                () = stop.cancelled() => return,
            }
        }
    }
}

/// A tunnel to the origin through the HTTP proxy (CONNECT) or SOCKS5.
async fn open(route: &Route, http: bool) -> std::io::Result<TcpStream> {
    if http {
        let mut s = TcpStream::connect(route.http_proxy).await?;
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", route.user, route.pass));
        let origin = route.origin;
        let head = format!(
            "CONNECT {origin} HTTP/1.1\r\nHost: {origin}\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await?;
        let mut reply = Vec::new();
        let mut byte = [0u8; 1];
        while !reply.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut byte).await?;
            reply.push(byte[0]);
            if reply.len() > 8192 {
                return Err(std::io::Error::other("CONNECT answer too long"));
            }
        }
        if !reply.starts_with(b"HTTP/1.1 200") {
            return Err(std::io::Error::other(format!(
                "CONNECT refused: {}",
                String::from_utf8_lossy(&reply)
            )));
        }
        Ok(s)
    } else {
        let mut s = TcpStream::connect(route.socks_proxy).await?;
        s.write_all(&[5, 1, 2]).await?;
        let mut choice = [0u8; 2];
        s.read_exact(&mut choice).await?;
        if choice != [5, 2] {
            return Err(std::io::Error::other("SOCKS5: no username/password method"));
        }
        let mut login = vec![1, route.user.len() as u8];
        login.extend_from_slice(route.user.as_bytes());
        login.push(route.pass.len() as u8);
        login.extend_from_slice(route.pass.as_bytes());
        s.write_all(&login).await?;
        let mut verdict = [0u8; 2];
        s.read_exact(&mut verdict).await?;
        if verdict != [1, 0] {
            return Err(std::io::Error::other("SOCKS5: login refused"));
        }
        let SocketAddr::V4(origin) = route.origin else {
            return Err(std::io::Error::other("the origin is IPv4"));
        };
        let mut request = vec![5, 1, 0, 1];
        request.extend_from_slice(&origin.ip().octets());
        request.extend_from_slice(&origin.port().to_be_bytes());
        s.write_all(&request).await?;
        let mut reply = [0u8; 10];
        s.read_exact(&mut reply).await?;
        if reply[1] != 0 {
            return Err(std::io::Error::other(format!(
                "SOCKS5 CONNECT refused: {}",
                reply[1]
            )));
        }
        Ok(s)
    }
}
