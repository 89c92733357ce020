//! The web listener: our own accept loop over hyper instead of `axum::serve`, which has no
//! header-read deadline, no idle deadline and no connection cap. Each accepted connection
//! must fit under the total cap and its source's cap (or it is closed at once), has
//! `ATLANTIC_WEB_HEADER_TIMEOUT_SECS` to send each request head, and is closed after
//! `ATLANTIC_WEB_IDLE_TIMEOUT_SECS` without a byte moving either way. Handlers still get
//! `ConnectInfo<SocketAddr>`, WebSocket upgrades still work (an upgraded socket keeps its
//! place under the caps until it closes), and a shutdown stops accepting and lets in-flight
//! requests finish.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use ipnet::IpNet;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::config::WebSettings;
use crate::http::client_ip::SourceKey;

/// Serves `app` on `listener` until `shutdown`, then waits for the open connections to finish
/// their requests (the caller bounds that wait; dropping this future closes them all).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    settings: WebSettings,
    trusted_proxies: Vec<IpNet>,
    shutdown: CancellationToken,
) {
    let caps = Caps::new(&settings, trusted_proxies);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        accept_failed(&error).await;
                        continue;
                    }
                };
                let Some(place) = caps.admit(peer.ip()) else {
                    // Closed at once: the cap is the point, not a queue.
                    drop(tcp);
                    continue;
                };
                connections.spawn(connection(tcp, peer, app.clone(), settings.clone(), place,
                    shutdown.clone()));
            }
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// Out of file descriptors (or a similar resource) is logged and waited out briefly; a
/// connection that failed before we saw it is nothing to report.
async fn accept_failed(error: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(%error, "accepting a web connection failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Serves one connection until it ends, idles past the deadline, or the service stops.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    app: Router,
    settings: WebSettings,
    place: Place,
    shutdown: CancellationToken,
) {
    // No Nagle: pages stream (the shell first, then each Suspense), and a small second write
    // must not wait for the client's delayed ACK (40 ms on Linux).
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::debug!(%error, "TCP_NODELAY not set");
    }
    let activity = Arc::new(AtomicU64::new(now_ms()));
    let io = TokioIo::new(Watched {
        inner: tcp,
        activity: activity.clone(),
        _place: place,
    });
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request)
    });
    // HTTP/1.1 only, as before: HTTP/2 would be more surface (and its own limits to set)
    // for no gain behind the reverse proxies that terminate TLS.
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout)
        .keep_alive(true)
        .serve_connection(io, service)
        .with_upgrades();
    tokio::pin!(conn);
    let idle = settings.idle_timeout;
    let mut stopping = false;
    loop {
        let quiet =
            Duration::from_millis(now_ms().saturating_sub(activity.load(Ordering::Relaxed)));
        let wake = idle.saturating_sub(quiet);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, %peer, "web connection ended with an error");
                }
                return;
            }
            () = shutdown.cancelled(), if !stopping => {
                // Finish the request in flight, then close; an idle connection closes now.
                conn.as_mut().graceful_shutdown();
                stopping = true;
            }
            () = tokio::time::sleep(wake) => {
                let quiet = now_ms().saturating_sub(activity.load(Ordering::Relaxed));
                if Duration::from_millis(quiet) >= idle {
                    tracing::debug!(%peer, "idle web connection closed");
                    return;
                }
            }
        }
    }
}

/// Milliseconds on a monotonic clock, for the last-activity stamp.
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The socket, stamping the time whenever a byte moves, and holding the connection's place
/// under the caps for as long as the socket lives (through a WebSocket upgrade too).
struct Watched {
    inner: TcpStream,
    activity: Arc<AtomicU64>,
    _place: Place,
}

impl Watched {
    fn touch(&self) {
        self.activity.store(now_ms(), Ordering::Relaxed);
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The connection caps: in all, and per source (an IPv4 address or IPv6 /64). Trusted
/// reverse proxies carry many clients and are held only to the total.
struct Caps {
    total: Arc<Semaphore>,
    per_source: SourceCounts,
    per_source_max: usize,
    trusted: Vec<IpNet>,
}

/// Open connections per source (sources at zero are removed).
type SourceCounts = Arc<Mutex<HashMap<SourceKey, usize>>>;

/// One connection's place under the caps, given back when dropped.
struct Place {
    _total: OwnedSemaphorePermit,
    source: Option<(SourceKey, SourceCounts)>,
}

impl Drop for Place {
    fn drop(&mut self) {
        if let Some((key, counts)) = self.source.take() {
            let mut counts = counts
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(n) = counts.get_mut(&key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    counts.remove(&key);
                }
            }
        }
    }
}

impl Caps {
    fn new(settings: &WebSettings, trusted: Vec<IpNet>) -> Caps {
        Caps {
            total: Arc::new(Semaphore::new(settings.max_connections)),
            per_source: Arc::default(),
            per_source_max: settings.max_connections_per_source,
            trusted,
        }
    }

    /// A place for a connection from `ip`, or `None` when a cap is reached.
    fn admit(&self, ip: IpAddr) -> Option<Place> {
        let Ok(total) = self.total.clone().try_acquire_owned() else {
            metrics::counter!("web_connections_refused_total", "cap" => "total").increment(1);
            return None;
        };
        if self.trusted.iter().any(|net| net.contains(&ip)) {
            return Some(Place {
                _total: total,
                source: None,
            });
        }
        let key = SourceKey::of(ip);
        let mut counts = self
            .per_source
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let open = counts.entry(key).or_insert(0);
        if *open >= self.per_source_max {
            drop(counts);
            metrics::counter!("web_connections_refused_total", "cap" => "source").increment(1);
            return None;
        }
        *open += 1;
        drop(counts);
        Some(Place {
            _total: total,
            source: Some((key, self.per_source.clone())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(total: usize, per_source: usize, trusted: &[&str]) -> Caps {
        let settings = WebSettings {
            max_connections: total,
            max_connections_per_source: per_source,
            ..WebSettings::default()
        };
        let trusted = trusted.iter().map(|n| n.parse().expect("net")).collect();
        Caps::new(&settings, trusted)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn a_source_is_capped_per_address_or_64_and_places_come_back() {
        let caps = caps(100, 2, &[]);
        let a = caps.admit(ip("2001:db8::1")).expect("first");
        let _b = caps.admit(ip("2001:db8::2")).expect("second, same /64");
        assert!(
            caps.admit(ip("2001:db8::3")).is_none(),
            "third from the /64"
        );
        assert!(caps.admit(ip("2001:db8:0:1::1")).is_some(), "another /64");
        drop(a);
        assert!(caps.admit(ip("2001:db8::3")).is_some(), "a place came back");
        let _c = caps.admit(ip("192.0.2.1")).expect("ipv4");
        let _d = caps
            .admit(ip("::ffff:192.0.2.1"))
            .expect("the same, mapped");
        assert!(caps.admit(ip("192.0.2.1")).is_none());
    }

    #[test]
    fn the_total_cap_holds_and_trusted_proxies_skip_the_source_cap() {
        let caps = caps(3, 1, &["10.0.0.0/8"]);
        let _a = caps.admit(ip("10.0.0.1")).expect("proxy");
        let _b = caps
            .admit(ip("10.0.0.1"))
            .expect("proxy again: no source cap");
        let c = caps.admit(ip("192.0.2.9")).expect("third");
        assert!(caps.admit(ip("192.0.2.10")).is_none(), "total reached");
        drop(c);
        assert!(caps.admit(ip("192.0.2.10")).is_some());
        assert!(
            caps.per_source.lock().expect("lock").len() <= 1,
            "counts are forgotten at zero"
        );
    }
}
