//! The life of one client connection: protocol front (HTTP or SOCKS5) → authenticate (password
//! or allowlisted source) → limits → candidate exits → connect, trying the next candidate while
//! no byte has reached the client → relay → record. This module holds the steps both fronts
//! share.

mod http;
pub(crate) mod pool;
mod socks;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::catalog::Account;
use crate::destination::{Destination, Host};
use crate::error::{ErrorCode, ProxyError, Side};
use crate::exits::{DialError, Dialed, ExitGuard, Route, dial};
use crate::gateway::Shared;
use crate::meter::Tally;
use crate::relay::{self, Stops, TunnelEnd, TunnelEnds};
use crate::sources::Pending;
use crate::username::Targeting;

/// Which front an accepted connection speaks.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Protocol {
    Http,
    Socks5,
}

/// Counts a client connection as active while alive.
struct ActiveGuard<'a>(&'a Shared);

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves one accepted connection to the end.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    protocol: Protocol,
) {
    shared.active.fetch_add(1, Ordering::Relaxed);
    let _active = ActiveGuard(&shared);
    let Some(_source) = shared.sources.acquire(peer.ip()) else {
        tracing::debug!(%peer, "too many connections from this source");
        if let Protocol::Http = protocol {
            let err = ProxyError::new(
                ErrorCode::RateLimited,
                "too many connections from your address",
            )
            .with_retry_after(1);
            let mut stream = stream;
            refuse(&shared, &mut stream, &err.http_response()).await;
        }
        return;
    };
    // a source already holding its share of unauthenticated connections gets no answer and
    // no linger: it is the one keeping others waiting
    let Some(pending) = shared.unauthenticated.enter(peer.ip()) else {
        tracing::debug!(%peer, "too many unauthenticated connections from this source");
        return;
    };
    match protocol {
        Protocol::Http => http::serve(&shared, stream, peer, pending).await,
        Protocol::Socks5 => socks::serve(&shared, stream, peer, pending).await,
    }
}

/// Books a refusal or failure: on the account when known, always in the global totals.
pub(crate) fn record_error(shared: &Shared, account: Option<&Account>, err: &ProxyError) {
    if err.code.http_status() >= 500 {
        tracing::warn!(code = %err.code, side = ?err.side, detail = %err.detail, "request failed");
    } else {
        tracing::debug!(code = %err.code, detail = %err.detail, "request refused");
    }
    match account {
        Some(a) => {
            let country = shared.config.direct_country.clone().unwrap_or_default();
            let cell = shared.meter.cell(a.id, 0, &country, None);
            Tally::new(cell, a.state.clone(), shared.traffic.clone()).error(err.code);
        }
        None => {
            shared.traffic.requests.fetch_add(1, Ordering::Relaxed);
            shared.traffic.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Writes a final answer and closes politely: the write side is shut, then whatever the client
/// still sends is read and dropped for a moment, so the answer is not lost to a reset.
pub(crate) async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared,
    stream: &mut S,
    answer: &[u8],
) {
    let linger = Duration::from_secs(1);
    let _ = tokio::time::timeout(shared.config.head_timeout, stream.write_all(answer)).await;
    let _ = tokio::time::timeout(linger, stream.shutdown()).await;
    let drain = async {
        // on the heap: an array here would sit in every connection's future, refused or not
        let mut sink = vec![0u8; 4096];
        let mut total = 0usize;
        while total < (1 << 20) {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(linger, drain).await;
}

/// Checks the per-request limits: quota (and that there is a plan) first, then the rate. The
/// connection cap is checked after, once per client connection.
pub(crate) fn admit(account: &Account) -> Result<(), ProxyError> {
    account.check_quota()?;
    account.state.check_rate()
}

/// A stream to the destination and where its counts go.
pub(crate) struct Opened {
    pub(crate) dialed: Dialed,
    pub(crate) tally: Tally,
    pub(crate) _exit: Option<ExitGuard>,
}

impl Opened {
    /// Relays between `client` (with the bytes it already sent past its handshake) and the
    /// opened destination until the tunnel ends: both sides done, idle, `cut`, or shutdown.
    pub(crate) async fn relay(
        self,
        shared: &Shared,
        client: TcpStream,
        client_early: BytesMut,
        cut: &CancellationToken,
    ) -> TunnelEnd {
        let Opened {
            dialed,
            tally,
            _exit,
        } = self;
        let ends = TunnelEnds {
            client,
            client_early,
            upstream: dialed.stream,
            upstream_early: dialed.leftover,
        };
        let stops = Stops {
            idle: shared.config.idle_timeout,
            shutdown: &shared.force,
            cut,
            splice: shared.config.splice,
        };
        relay::tunnel(ends, &tally, stops).await
    }
}

/// Applies the destination policy, then tries the candidate routes in order within the
/// connect budget, until one delivers a stream.
pub(crate) async fn open(
    shared: &Shared,
    account: &Account,
    targeting: &Targeting,
    dest: &Destination,
) -> Result<Opened, ProxyError> {
    shared.policy.check(dest)?;
    let share = account.session_share(shared.config.max_connections_per_account);
    let routes =
        shared
            .exits
            .candidates(targeting, account.id, share, std::time::Instant::now())?;
    let deadline = Instant::now() + shared.config.connect_timeout;
    // A name is resolved here once, and every address it has is checked, whichever route
    // carries it: direct egress dials those addresses, and an exit is sent one of them (not
    // the name), so the upstream cannot be steered at its own network by its own resolver.
    let resolved = if !shared.policy.allow_private || routes.iter().any(|r| !r.forwards_names()) {
        Some(
            shared
                .policy
                .resolve(dest, shared.config.connect_timeout)
                .await?,
        )
    } else {
        None
    };
    let checked = resolved
        .as_deref()
        .map(|addrs| checked_destination(addrs, dest));
    let mut last: Option<ProxyError> = None;
    for (i, route) in routes.iter().enumerate() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        if !shared.exits.try_acquire(route, std::time::Instant::now()) {
            continue;
        }
        let target = match &checked {
            Some(ip) if !route.forwards_names() => ip,
            _ => dest,
        };
        // later candidates keep a share of the budget, so one black hole cannot eat it all
        let left = u32::try_from(routes.len() - i).unwrap_or(u32::MAX);
        let budget = (remaining / left).max(remaining.min(Duration::from_secs(1)));
        let started = Instant::now();
        match dial(
            route,
            target,
            resolved.as_deref().unwrap_or_default(),
            budget,
        )
        .await
        {
            Ok(dialed) => {
                shared.exits.upstream_ok(route, started.elapsed());
                let now = std::time::Instant::now();
                shared
                    .exits
                    .served(route, targeting, account.id, share, now);
                let country = shared.exits.country_of(route);
                let session = targeting.session.as_deref();
                let cell = shared.meter.cell(account.id, route.id(), &country, session);
                let tally = Tally::new(cell, account.state.clone(), shared.traffic.clone());
                let exit = match route {
                    Route::Via(e) => Some(e.track()),
                    Route::Direct => None,
                };
                return Ok(Opened {
                    dialed,
                    tally,
                    _exit: exit,
                });
            }
            Err(DialError::Timeout { exit_reached }) => {
                if !exit_reached {
                    let why = format!("exit {} did not accept a connection in time", route.id());
                    let now = std::time::Instant::now();
                    shared.exits.upstream_failed(route, now, &why);
                }
                if last
                    .as_ref()
                    .is_none_or(|e| e.code == ErrorCode::ConnectTimeout)
                {
                    last = Some(ProxyError::new(
                        ErrorCode::ConnectTimeout,
                        format!("{dest} via exit {} timed out", route.id()),
                    ));
                }
            }
            Err(DialError::Exit(detail)) => {
                shared
                    .exits
                    .upstream_failed(route, std::time::Instant::now(), &detail);
                last = Some(ProxyError::new(ErrorCode::UpstreamFailed, detail));
            }
            Err(DialError::Destination {
                detail,
                socks_reply,
                upstream_status,
            }) => {
                // the exit did its job; what failed is the destination (or the exit's policy
                // about it), which must not count against the exit for everybody else
                shared.exits.upstream_ok(route, started.elapsed());
                let mut err = ProxyError::new(ErrorCode::UpstreamFailed, detail)
                    .with_side(Side::Destination)
                    .with_socks_reply(socks_reply);
                err.upstream_status = upstream_status;
                last = Some(err);
            }
        }
    }
    Err(last.unwrap_or_else(|| {
        ProxyError::new(ErrorCode::NoExit, "every matching exit is being probed")
    }))
}

/// The destination as sent to an exit that does not resolve names itself: one of the checked
/// addresses, IPv4 first (residential upstreams often have no IPv6).
fn checked_destination(addrs: &[SocketAddr], dest: &Destination) -> Destination {
    let chosen = addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .map_or(dest.host.clone(), |a| Host::Ip(a.ip()));
    Destination {
        host: chosen,
        port: dest.port,
    }
}
