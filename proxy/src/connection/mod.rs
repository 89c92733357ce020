//! The life of one client connection: protocol front (HTTP or SOCKS5) → authenticate (password
//! or allowlisted source) → limits → candidate exits → connect, trying the next candidate while
//! no byte has reached the client → relay → record. This module holds the steps both fronts
//! share.

mod http;
mod socks;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::catalog::Account;
use crate::clock;
use crate::destination::{Destination, Host};
use crate::engine::Engine;
use crate::error::{ErrorCode, ProxyError, Side};
use crate::exits::{Connected, DialError};
use crate::opened::Opened;
use crate::relay::Stops;
use crate::sessions::SessionGuard;
use crate::sources::Pending;
use crate::tally::Tally;
use crate::username::Targeting;

/// Which front an accepted connection speaks.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Protocol {
    Http,
    Socks5,
}

/// Counts a client connection as active while alive.
struct ActiveGuard<'a>(&'a Engine);

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves one accepted connection to the end.
pub(crate) async fn serve(
    engine: Arc<Engine>,
    stream: TcpStream,
    peer: SocketAddr,
    protocol: Protocol,
) {
    engine.active.fetch_add(1, Ordering::Relaxed);
    let _active = ActiveGuard(&engine);
    let Some(_source) = engine.sources.acquire(peer.ip()) else {
        tracing::debug!(%peer, "too many connections from this source");
        if let Protocol::Http = protocol {
            let err = ProxyError::new(
                ErrorCode::RateLimited,
                "too many connections from your address",
            )
            .with_retry_after(1);
            let mut stream = stream;
            refuse(&engine, &mut stream, &err.http_response()).await;
        }
        return;
    };
    // a source already holding its share of unauthenticated connections gets no answer and
    // no linger: it is the one keeping others waiting
    let Some(pending) = engine.unauthenticated.enter(peer.ip()) else {
        tracing::debug!(%peer, "too many unauthenticated connections from this source");
        return;
    };
    match protocol {
        Protocol::Http => http::serve(&engine, stream, peer, pending).await,
        Protocol::Socks5 => socks::serve(&engine, stream, peer, pending).await,
    }
}

/// Books a refusal or failure: on the account when known, always in the global totals.
pub(crate) fn record_error(engine: &Engine, account: Option<&Account>, err: &ProxyError) {
    crate::telemetry::refusal(err.code);
    if err.code.http_status() >= 500 {
        tracing::warn!(code = %err.code, side = ?err.side, detail = %err.detail, "request failed");
    } else {
        tracing::debug!(code = %err.code, detail = %err.detail, "request refused");
    }
    match account {
        Some(a) => {
            let country = engine.config.direct_country.clone().unwrap_or_default();
            let cell = engine.meter.cell(a.id, 0, &country, None);
            Tally::new(cell, a.state.clone(), engine.traffic.clone()).error(err.code);
        }
        None => {
            engine.traffic.requests.fetch_add(1, Ordering::Relaxed);
            engine.traffic.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Writes a final answer and closes politely: the write side is shut, then whatever the client
/// still sends is read and dropped for a moment, so the answer is not lost to a reset.
pub(crate) async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(
    engine: &Engine,
    stream: &mut S,
    answer: &[u8],
) {
    let linger = Duration::from_secs(1);
    let _ = tokio::time::timeout(engine.config.head_timeout, stream.write_all(answer)).await;
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

/// How a tunnel of this gateway stops: idle timeout, the drain deadline, or `cut`.
pub(crate) fn stops<'a>(engine: &'a Engine, cut: &'a CancellationToken) -> Stops<'a> {
    Stops {
        idle: engine.config.idle_timeout,
        shutdown: &engine.force,
        cut,
        splice: engine.config.splice,
    }
}

/// Applies the destination policy, then tries the candidate routes in order within the
/// connect budget, until one delivers a stream.
pub(crate) async fn open(
    engine: &Engine,
    account: &Account,
    targeting: &Targeting,
    dest: &Destination,
) -> Result<Opened, ProxyError> {
    engine.policy.check(dest)?;
    let share = account.session_share(engine.config.max_connections_per_account);
    // in a cluster, a session is bound wherever it was first served
    let cluster = engine.cluster.get();
    let binding = match (cluster, &targeting.session) {
        (Some(cluster), Some(session)) => {
            let binding = cluster.session(account.id, session).await;
            if cluster.is_up() {
                let seen = binding.map(|b| (b.exit_id, b.ttl));
                engine
                    .exits
                    .adopt_session(&account.state, session, seen, share, clock::now());
            }
            binding
        }
        _ => None,
    };
    let mut attempts = engine
        .exits
        .attempts(targeting, &account.state, share, clock::now())?;
    let deadline = Instant::now() + engine.config.connect_timeout;
    // A name is resolved here once, and every address it has is checked, whichever route
    // carries it: direct egress dials those addresses, and an exit is sent one of them (not
    // the name), so the upstream cannot be steered at its own network by its own resolver.
    let resolved = if !engine.policy.allow_private || attempts.need_addresses() {
        Some(
            engine
                .policy
                .resolve(dest, engine.config.connect_timeout)
                .await?,
        )
    } else {
        None
    };
    let checked = resolved
        .as_deref()
        .map(|addrs| checked_destination(addrs, dest));
    let mut last: Option<ProxyError> = None;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        let Some(attempt) = attempts.next(clock::now()) else {
            break;
        };
        let exit_id = attempt.route().id();
        let target = match &checked {
            Some(ip) if !attempt.route().forwards_names() => ip,
            _ => dest,
        };
        let left = u32::try_from(attempt.left()).unwrap_or(u32::MAX);
        let budget = attempt_budget(remaining, left);
        let addrs = resolved.as_deref().unwrap_or_default();
        match attempt.dial(target, addrs, budget).await {
            Ok(connected) => {
                if let (Some(cluster), Some(session)) = (cluster, &targeting.session)
                    && binding.map(|b| b.exit_id) != Some(connected.exit_id)
                {
                    let ttl = engine.exits.session_ttl(targeting);
                    cluster
                        .bind_session(account.id, session, connected.exit_id, ttl)
                        .await;
                }
                if last.is_some() {
                    crate::telemetry::failover();
                }
                return Ok(opened(engine, account, targeting, connected));
            }
            Err(DialError::Timeout { .. }) => {
                if last
                    .as_ref()
                    .is_none_or(|e| e.code == ErrorCode::ConnectTimeout)
                {
                    last = Some(ProxyError::new(
                        ErrorCode::ConnectTimeout,
                        format!("{dest} via exit {exit_id} timed out"),
                    ));
                }
            }
            Err(DialError::Exit(detail)) => {
                last = Some(ProxyError::new(ErrorCode::UpstreamFailed, detail));
            }
            Err(DialError::Destination {
                detail,
                socks_reply,
                upstream_status,
            }) => {
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

/// The part of the `remaining` connect budget one attempt may use, with `left` candidates to
/// try (itself included): an even share, or a second if that is more (a slow but working exit
/// deserves a fair try), but never more than half while another candidate waits, so that one
/// black-holed exit cannot eat the whole budget even when it is short.
fn attempt_budget(remaining: Duration, left: u32) -> Duration {
    (remaining / left.max(1)).max((remaining / 2).min(Duration::from_secs(1)))
}

/// The opened stream with where its counts go: the (account, exit, session) cell.
fn opened(engine: &Engine, account: &Account, targeting: &Targeting, c: Connected) -> Opened {
    let session = targeting.session.as_deref();
    let cell = engine
        .meter
        .cell(account.id, c.exit_id, &c.country, session);
    Opened {
        dialed: c.dialed,
        tally: Tally::new(cell, account.state.clone(), engine.traffic.clone())
            .with_session(c.session.map(SessionGuard::new)),
        exit_id: c.exit_id,
        _exit: c.exit,
    }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::attempt_budget;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_last_candidate_gets_what_is_left() {
        assert_eq!(attempt_budget(ms(10_000), 1), ms(10_000));
        assert_eq!(attempt_budget(ms(300), 1), ms(300));
    }

    #[test]
    fn candidates_share_a_long_budget_with_a_second_at_least() {
        assert_eq!(attempt_budget(ms(9_000), 3), ms(3_000));
        assert_eq!(attempt_budget(ms(3_000), 3), ms(1_000));
        assert_eq!(attempt_budget(ms(2_000), 3), ms(1_000));
    }

    #[test]
    fn a_short_budget_keeps_half_for_the_next_candidate() {
        // a black-holed first exit used to get all of a budget of a second or less
        assert_eq!(attempt_budget(ms(1_000), 2), ms(500));
        assert_eq!(attempt_budget(ms(1_500), 2), ms(750));
        assert_eq!(attempt_budget(ms(400), 3), ms(200));
    }
}
