//! SOCKS5 front: method negotiation (username/password, or none for allowlisted sources),
//! CONNECT, then the tunnel. Refusals after authentication are sent as the closest reply code.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::{Opened, admit, open, record_error};
use crate::catalog::Account;
use crate::destination::Destination;
use crate::error::ProxyError;
use crate::gateway::Shared;
use crate::relay::{self, Stops, TunnelEnds};
use crate::socks5::{self, SocksError};
use crate::username::Targeting;

/// Outcome of the handshake up to the request.
enum Handshake {
    /// Authenticated; the request names `dest`. The targeting may carry a deferred error.
    Ready(Arc<Account>, Result<Targeting, ProxyError>, Destination),
    /// Already answered (or the client left); close.
    Done,
}

pub(super) async fn serve(shared: &Shared, mut stream: TcpStream, peer: SocketAddr) {
    let deadline = shared.config.head_timeout;
    let handshake = tokio::select! {
        r = tokio::time::timeout(deadline, handshake(shared, &mut stream, peer)) => r,
        () = shared.force.cancelled() => return,
    };
    let (account, targeting, dest) = match handshake {
        Ok(Ok(Handshake::Ready(a, t, d))) => (a, t, d),
        Ok(Ok(Handshake::Done)) | Err(_) => return,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "SOCKS5 handshake failed");
            if matches!(
                e,
                SocksError::Command(_) | SocksError::AddressType(_) | SocksError::Malformed(_)
            ) {
                let _ = socks5::write_reply(&mut stream, e.reply_code(), unspecified()).await;
            }
            return;
        }
    };
    let result = async {
        let targeting = targeting?;
        admit(&account)?;
        let permit = account
            .state
            .open_connection(account.connection_cap(shared.config.max_connections_per_account))?;
        let opened = open(shared, &account, &targeting, &dest).await?;
        Ok::<_, ProxyError>((permit, opened))
    }
    .await;
    let (_permit, opened) = match result {
        Ok(ok) => ok,
        Err(e) => {
            record_error(shared, Some(&account), &e);
            let _ = socks5::write_reply(&mut stream, e.socks_reply_code(), unspecified()).await;
            let _ = stream.shutdown().await;
            return;
        }
    };
    opened.tally.request();
    let bound = opened
        .dialed
        .stream
        .local_addr()
        .unwrap_or_else(|_| unspecified());
    if socks5::write_reply(&mut stream, socks5::REPLY_OK, bound)
        .await
        .is_err()
    {
        return;
    }
    let Opened {
        dialed,
        tally,
        _exit,
    } = opened;
    let ends = TunnelEnds {
        client: stream,
        client_early: BytesMut::new(),
        upstream: dialed.stream,
        upstream_early: dialed.leftover,
    };
    let cut = account.state.cut_token();
    let end = relay::tunnel(
        ends,
        &tally,
        Stops {
            idle: shared.config.idle_timeout,
            shutdown: &shared.force,
            cut: &cut,
            splice: shared.config.splice,
        },
    )
    .await;
    tracing::trace!(?end, "SOCKS5 tunnel closed");
}

fn unspecified() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 0))
}

async fn handshake(
    shared: &Shared,
    stream: &mut TcpStream,
    peer: SocketAddr,
) -> Result<Handshake, SocksError> {
    let methods = socks5::read_greeting(stream).await?;
    let Some(accounts) = shared.catalog.current() else {
        // not ready: no method can succeed yet
        socks5::write_method(stream, socks5::METHOD_REJECT).await?;
        return Ok(Handshake::Done);
    };
    let found = if methods.contains(&socks5::METHOD_USERPASS) {
        socks5::write_method(stream, socks5::METHOD_USERPASS).await?;
        let (user, pass) = socks5::read_credentials(stream).await?;
        match accounts.authenticate(Some((&user, &pass)), peer.ip()) {
            Ok(found) => {
                socks5::write_auth_status(stream, true).await?;
                found
            }
            Err(e) => {
                record_error(shared, None, &e);
                socks5::write_auth_status(stream, false).await?;
                let _ = stream.shutdown().await;
                return Ok(Handshake::Done);
            }
        }
    } else {
        let allowlisted = methods
            .contains(&socks5::METHOD_NONE)
            .then(|| accounts.authenticate(None, peer.ip()).ok())
            .flatten();
        match allowlisted {
            Some(found) => {
                socks5::write_method(stream, socks5::METHOD_NONE).await?;
                found
            }
            None => {
                record_error(
                    shared,
                    None,
                    &ProxyError::new(
                        crate::error::ErrorCode::AuthRequired,
                        "no username/password offered",
                    ),
                );
                socks5::write_method(stream, socks5::METHOD_REJECT).await?;
                let _ = stream.shutdown().await;
                return Ok(Handshake::Done);
            }
        }
    };
    let dest = socks5::read_request(stream).await?;
    Ok(Handshake::Ready(found.0, found.1, dest))
}
