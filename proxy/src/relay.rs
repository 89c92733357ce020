//! Tunnel relay. Each direction waits for readability before it takes a buffer, so an idle
//! tunnel holds no user-space buffer at all; the bytes are counted as they are written (up:
//! written to the upstream, down: written to the client). Once a direction has moved
//! [`SPLICE_AFTER`] bytes, it switches to `splice(2)` through a pipe (Linux), so bulk transfers
//! stay in the kernel; if no pipe can be had (descriptor limit), it keeps copying.
//! A tunnel stops when both sides are done, a side fails, it has been idle too long, the
//! account is cut off, or the gateway shuts down.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use rustix::net::Shutdown;
use rustix::pipe::{PipeFlags, SpliceFlags};
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::tally::Tally;

/// User-space buffer taken while a direction has data to move.
const BUF_SIZE: usize = 64 * 1024;
/// Bytes a direction moves by copying before it switches to `splice`.
pub(crate) const SPLICE_AFTER: u64 = 512 * 1024;
/// Pipe size asked for when splicing: Linux's default `pipe-max-size`. Against 256 KiB it cut
/// the proxy's CPU per byte by about 30 % and raised one-stream throughput from ~0.63 to
/// ~0.71 × direct (docs/benchmarks.md). Past the per-user pipe memory soft limit the kernel
/// refuses the resize and the pipe keeps its default size, which still works.
const PIPE_SIZE: usize = 1024 * 1024;

/// Why a tunnel ended.
#[derive(Debug)]
pub(crate) enum TunnelEnd {
    /// Both sides closed.
    Done,
    /// No byte moved for the idle timeout.
    Idle,
    /// The account was cut off (quota).
    Cut,
    /// The gateway is shutting down.
    Shutdown,
    /// A read or write failed (logged where it happened).
    Failed,
}

/// The streams of a tunnel, with bytes each side already sent past its handshake.
pub(crate) struct TunnelEnds {
    pub(crate) client: TcpStream,
    pub(crate) client_early: BytesMut,
    pub(crate) upstream: TcpStream,
    pub(crate) upstream_early: BytesMut,
}

/// How a tunnel may be stopped from outside, and how it moves bytes.
pub(crate) struct Stops<'a> {
    pub(crate) idle: Duration,
    pub(crate) shutdown: &'a CancellationToken,
    pub(crate) cut: &'a CancellationToken,
    pub(crate) splice: bool,
}

/// One direction of a tunnel.
struct Direction<'a> {
    from: &'a TcpStream,
    to: &'a TcpStream,
    early: BytesMut,
    count: &'a (dyn Fn(u64) + Sync),
    moved: &'a AtomicU64,
    splice: bool,
}

impl Direction<'_> {
    fn record(&self, n: usize) {
        (self.count)(n as u64);
        self.moved.fetch_add(n as u64, Ordering::Relaxed);
    }

    async fn run(mut self) -> io::Result<()> {
        // taken (and freed) even when empty: an idle tunnel keeps no buffer
        let early = std::mem::take(&mut self.early);
        if !early.is_empty() {
            write_all(self.to, &early).await?;
            self.record(early.len());
        }
        drop(early);
        let mut total = 0u64;
        loop {
            if self.splice && total >= SPLICE_AFTER {
                match new_pipe() {
                    Ok(pipe) => return self.splice_all(pipe).await,
                    Err(e) => {
                        tracing::debug!(error = %e, "no pipe for splice; copying instead");
                        self.splice = false;
                    }
                }
            }
            self.from.readable().await?;
            let mut buf = Vec::with_capacity(BUF_SIZE);
            loop {
                buf.clear();
                match self.from.try_read_buf(&mut buf) {
                    Ok(0) => {
                        shutdown_write(self.to);
                        return Ok(());
                    }
                    Ok(n) => {
                        write_all(self.to, &buf).await?;
                        self.record(n);
                        total += n as u64;
                        if self.splice && total >= SPLICE_AFTER {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
    }

    /// Moves everything else through `pipe` with `splice(2)`.
    async fn splice_all(&self, (pipe_r, pipe_w): (OwnedFd, OwnedFd)) -> io::Result<()> {
        let flags = SpliceFlags::NONBLOCK | SpliceFlags::MOVE;
        loop {
            let filled = self
                .from
                .async_io(Interest::READABLE, || {
                    rustix::pipe::splice(self.from.as_fd(), None, &pipe_w, None, PIPE_SIZE, flags)
                        .map_err(io::Error::from)
                })
                .await?;
            if filled == 0 {
                shutdown_write(self.to);
                return Ok(());
            }
            let mut in_pipe = filled;
            while in_pipe > 0 {
                let n = self
                    .to
                    .async_io(Interest::WRITABLE, || {
                        rustix::pipe::splice(&pipe_r, None, self.to.as_fd(), None, in_pipe, flags)
                            .map_err(io::Error::from)
                    })
                    .await?;
                in_pipe -= n;
                self.record(n);
                #[cfg(test)]
                tests::SPLICED.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
    }
}

fn new_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
    // a bigger pipe means fewer system calls per megabyte; the default (64 KiB) also works
    let _ = rustix::pipe::fcntl_setpipe_size(&w, PIPE_SIZE);
    Ok((r, w))
}

async fn write_all(to: &TcpStream, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = to
            .async_io(Interest::WRITABLE, || to.try_write(buf))
            .await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    Ok(())
}

/// Half-closes: the peer sees end of stream, and can still send.
fn shutdown_write(s: &TcpStream) {
    // the peer may be gone already; nothing to do about it then
    let _ = rustix::net::shutdown(s, Shutdown::Write);
}

/// Relays until both sides are done or a stop condition fires.
pub(crate) async fn tunnel(ends: TunnelEnds, tally: &Tally, stops: Stops<'_>) -> TunnelEnd {
    let TunnelEnds {
        client,
        client_early,
        upstream,
        upstream_early,
    } = ends;
    let moved = AtomicU64::new(0);
    let count_up = |n: u64| tally.up(n);
    let count_down = |n: u64| tally.down(n);
    let up = Direction {
        from: &client,
        to: &upstream,
        early: client_early,
        count: &count_up,
        moved: &moved,
        splice: stops.splice,
    };
    let down = Direction {
        from: &upstream,
        to: &client,
        early: upstream_early,
        count: &count_down,
        moved: &moved,
        splice: stops.splice,
    };
    let relay = async { tokio::try_join!(up.run(), down.run()) };
    tokio::select! {
        r = relay => match r {
            Ok(_) => TunnelEnd::Done,
            Err(e) => {
                tracing::debug!(error = %e, "tunnel I/O failed");
                TunnelEnd::Failed
            }
        },
        () = idle_watch(&moved, stops.idle) => TunnelEnd::Idle,
        () = stops.shutdown.cancelled() => TunnelEnd::Shutdown,
        () = stops.cut.cancelled() => TunnelEnd::Cut,
    }
}

/// Returns once `moved` has not changed for `idle`.
async fn idle_watch(moved: &AtomicU64, idle: Duration) {
    let tick = (idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(30));
    let mut last = moved.load(Ordering::Relaxed);
    let mut still = Duration::ZERO;
    loop {
        tokio::time::sleep(tick).await;
        let now = moved.load(Ordering::Relaxed);
        if now == last {
            still += tick;
            if still >= idle {
                return;
            }
        } else {
            last = now;
            still = Duration::ZERO;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::account_state::AccountState;

    /// Bytes moved by `splice`, to prove the path runs.
    pub(super) static SPLICED: AtomicU64 = AtomicU64::new(0);
    use crate::meter::{Meter, Traffic};

    async fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let a = TcpStream::connect(l.local_addr().expect("addr"))
            .await
            .expect("connect");
        let (b, _) = l.accept().await.expect("accept");
        (a, b)
    }

    async fn relay_roundtrip(splice: bool) {
        // client_app <-> [client | gateway | upstream] <-> server_app
        let (mut client_app, client) = pair().await;
        let (upstream, mut server_app) = pair().await;
        let meter = Meter::default();
        let account = Arc::new(AccountState::new(1));
        let tally = Tally::new(
            meter.cell(1, 0, "", None),
            account.clone(),
            Arc::new(Traffic::default()),
        );
        let never = CancellationToken::new();
        let ends = TunnelEnds {
            client,
            client_early: BytesMut::from(&b"early-up"[..]),
            upstream,
            upstream_early: BytesMut::from(&b"early-down"[..]),
        };
        let relay = tokio::spawn({
            let tally = tally.clone();
            async move {
                let stops = Stops {
                    idle: Duration::from_secs(5),
                    shutdown: &never,
                    cut: &never,
                    splice,
                };
                let end = tunnel(ends, &tally, stops).await;
                assert!(matches!(end, TunnelEnd::Done), "{end:?}");
            }
        });
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let sent = big.clone();
        let server = tokio::spawn(async move {
            let mut got = Vec::new();
            server_app.write_all(&sent).await.expect("server write");
            server_app.shutdown().await.expect("server shutdown");
            server_app.read_to_end(&mut got).await.expect("server read");
            got
        });
        let mut got = Vec::new();
        let (mut rd, mut wr) = client_app.split();
        let reader = async { rd.read_to_end(&mut got).await.expect("client read") };
        let w = async {
            wr.write_all(&big[..1_000_000]).await.expect("client write");
            wr.shutdown().await.expect("client shutdown");
        };
        tokio::join!(reader, w);
        let server_got = server.await.expect("server");
        relay.await.expect("relay");
        assert_eq!(&got[..10], b"early-down");
        assert_eq!(&got[10..], &big[..]);
        assert_eq!(&server_got[..8], b"early-up");
        assert_eq!(&server_got[8..], &big[..1_000_000]);
        let rec = meter.drain(0);
        assert_eq!(rec[0].bytes_up, 1_000_008);
        assert_eq!(rec[0].bytes_down, 3_000_010);
    }

    #[tokio::test]
    async fn copies_both_ways_with_half_close_and_exact_counts() {
        relay_roundtrip(false).await;
    }

    #[tokio::test]
    async fn splices_bulk_transfers_with_exact_counts() {
        relay_roundtrip(true).await;
        assert!(
            SPLICED.load(Ordering::Relaxed) >= 2_000_000,
            "bulk went through splice"
        );
    }
}
