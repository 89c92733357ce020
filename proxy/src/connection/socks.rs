//! SOCKS5 front: method negotiation (username/password, or none for allowlisted sources),
//! CONNECT, then the tunnel. Refusals after authentication are sent as the closest reply code.

use std::net::{IpAddr, SocketAddr};

use bytes::BytesMut;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::{Pending, open, record_error, stops};
use crate::admission::{Admitted, Refused, admit};
use crate::catalog::{Accounts, Authenticated};
use crate::destination::Destination;
use crate::engine::Engine;
use crate::error::{ErrorCode, ProxyError};
use crate::socks5::{self, Accepted, SocksError};

/// Read buffer for the handshake: the largest message, the RFC 1929 request, is 513 bytes.
const HANDSHAKE_BUFFER: usize = 1024;

/// Outcome of the handshake up to the request.
enum Handshake {
    /// Authenticated; the request names `dest`. The targeting may carry a deferred error; the
    /// bytes are what the client sent after its request (optimistic data), owed to the tunnel.
    Ready(Authenticated, Destination, BytesMut),
    /// Already answered (or the client left); close.
    Done,
}

pub(super) async fn serve(
    engine: &Engine,
    mut stream: TcpStream,
    peer: SocketAddr,
    pending: Pending,
) {
    let deadline = engine.config.head_timeout;
    let handshake = tokio::select! {
        r = tokio::time::timeout(deadline, handshake(engine, &mut stream, peer)) => r,
        () = engine.force.cancelled() => return,
        () = pending.shed().cancelled() => return,
    };
    // authenticated (or about to close): no longer one of the pending
    drop(pending);
    let (found, dest, early) = match handshake {
        Ok(Ok(Handshake::Ready(found, dest, early))) => (found, dest, early),
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
    let admitted = admit(engine, Ok(found), None).await;
    let result = match admitted {
        Ok(Admitted {
            account,
            targeting,
            permit,
        }) => match open(engine, &account, &targeting, &dest).await {
            Ok(opened) => Ok((permit, opened, account)),
            Err(error) => Err(Refused {
                error,
                account: Some(account),
            }),
        },
        Err(refused) => Err(refused),
    };
    let (_permit, opened, _account) = match result {
        Ok(ok) => ok,
        Err(Refused { error, account }) => {
            record_error(engine, account.as_deref(), &error);
            let _ = socks5::write_reply(&mut stream, error.socks_reply_code(), unspecified()).await;
            let _ = stream.shutdown().await;
            return;
        }
    };
    opened.tally.request();
    // BND.ADDR stays unspecified: the outbound socket's address is the gateway's internal one,
    // which customers have no use for and reviewers rightly count as a leak
    if socks5::write_reply(&mut stream, socks5::REPLY_OK, unspecified())
        .await
        .is_err()
    {
        return;
    }
    let cut = opened.tally.cut_token();
    let end = opened.relay(stream, early, stops(engine, &cut)).await;
    tracing::trace!(?end, "SOCKS5 tunnel closed");
}

fn unspecified() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 0))
}

/// Checks SOCKS5 clients against the current accounts.
struct CatalogAuth<'a> {
    accounts: &'a Accounts,
    peer: IpAddr,
}

impl socks5::Authenticator for CatalogAuth<'_> {
    type Found = Authenticated;
    type Refusal = ProxyError;

    fn password(&mut self, user: &str, pass: &str) -> Result<Authenticated, ProxyError> {
        self.accounts.authenticate(Some((user, pass)), self.peer)
    }

    fn no_password(&mut self) -> Option<Authenticated> {
        self.accounts.authenticate(None, self.peer).ok()
    }
}

async fn handshake(
    engine: &Engine,
    stream: &mut TcpStream,
    peer: SocketAddr,
) -> Result<Handshake, SocksError> {
    let accounts = engine.catalog.current();
    let auth = accounts.as_deref().map(|accounts| CatalogAuth {
        accounts,
        peer: peer.ip(),
    });
    // The client's messages are read through a buffer, so each arrives in one system call
    // rather than one per field.
    let mut reader = BufReader::with_capacity(HANDSHAKE_BUFFER, stream);
    match socks5::accept(&mut reader, auth).await? {
        Accepted::Connect(found, dest) => Ok(Handshake::Ready(
            found,
            dest,
            BytesMut::from(reader.buffer()),
        )),
        Accepted::NotReady => Ok(Handshake::Done),
        Accepted::NoMethod => {
            let err = ProxyError::new(ErrorCode::AuthRequired, "no username/password offered");
            record_error(engine, None, &err);
            Ok(Handshake::Done)
        }
        Accepted::Refused(err) => {
            record_error(engine, None, &err);
            Ok(Handshake::Done)
        }
    }
}
