//! Opening a byte stream to the destination through one route: a direct TCP connection to the
//! resolved addresses, a `CONNECT` through an upstream HTTP proxy, or a SOCKS5 CONNECT through
//! an upstream SOCKS5 proxy. Failures say whether the upstream or the destination failed.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::{Exit, Route};
use crate::buffered::Buffered;
use crate::destination::Destination;
use crate::directory::ExitKind;
use crate::http;
use crate::socks5::{self, SocksError};

/// Largest answer head accepted from an upstream HTTP proxy.
const MAX_UPSTREAM_HEAD: usize = 16 * 1024;

/// Read buffer for an upstream SOCKS5 server's answers (the longest, a reply with a domain name,
/// is 262 bytes).
const SOCKS_REPLY_BUFFER: usize = 1024;

/// A stream to the destination, and bytes the upstream already sent past its handshake.
#[derive(Debug)]
pub(crate) struct Dialed {
    pub(crate) stream: TcpStream,
    pub(crate) leftover: BytesMut,
}

/// Why a route did not deliver a stream.
#[derive(Debug)]
pub(crate) enum DialError {
    /// Nothing within the time allowed; `exit_reached` when the upstream proxy accepted the
    /// TCP connection (so the destination, not the exit, is the likely culprit).
    Timeout { exit_reached: bool },
    /// The upstream proxy itself failed (unreachable, bad handshake, refused our credentials).
    Exit(String),
    /// The route works but the destination failed (refused, unreachable, blocked upstream, or
    /// any other answer of a working upstream): `upstream_status` is an HTTP upstream's status.
    Destination {
        detail: String,
        socks_reply: u8,
        upstream_status: Option<u16>,
    },
}

fn destination_io(e: &io::Error, what: &str) -> DialError {
    let socks_reply = match e.kind() {
        io::ErrorKind::ConnectionRefused => socks5::REPLY_REFUSED,
        io::ErrorKind::HostUnreachable => 0x04,
        io::ErrorKind::NetworkUnreachable => 0x03,
        _ => socks5::REPLY_FAILURE,
    };
    DialError::Destination {
        detail: format!("{what}: {e}"),
        socks_reply,
        upstream_status: None,
    }
}

/// Opens a stream to `dest` through `route` within `timeout`. `direct_addrs` are the checked,
/// resolved addresses of `dest` (used by direct egress only).
pub(crate) async fn dial(
    route: &Route,
    dest: &Destination,
    direct_addrs: &[SocketAddr],
    timeout: Duration,
) -> Result<Dialed, DialError> {
    let reached = AtomicBool::new(false);
    let attempt = async {
        match route {
            Route::Direct => dial_direct(dest, direct_addrs).await,
            Route::Via(exit) => dial_upstream(exit, dest, &reached).await,
        }
    };
    let result = tokio::time::timeout(timeout, attempt).await;
    result.unwrap_or(Err(DialError::Timeout {
        exit_reached: reached.load(Ordering::Relaxed),
    }))
}

async fn dial_direct(dest: &Destination, addrs: &[SocketAddr]) -> Result<Dialed, DialError> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                stream.set_nodelay(true).ok();
                return Ok(Dialed {
                    stream,
                    leftover: BytesMut::new(),
                });
            }
            Err(e) => last = Some(destination_io(&e, &format!("connecting to {addr}"))),
        }
    }
    Err(last.unwrap_or_else(|| DialError::Destination {
        detail: format!("{dest} has no address"),
        socks_reply: 0x04,
        upstream_status: None,
    }))
}

async fn dial_upstream(
    exit: &Exit,
    dest: &Destination,
    reached: &AtomicBool,
) -> Result<Dialed, DialError> {
    let up = &exit.upstream;
    let mut stream = TcpStream::connect((up.host.as_str(), up.port))
        .await
        .map_err(|e| {
            DialError::Exit(format!(
                "exit {} at {}:{}: {e}",
                exit.entry.id, up.host, up.port
            ))
        })?;
    reached.store(true, Ordering::Relaxed);
    stream.set_nodelay(true).ok();
    match exit.entry.kind {
        ExitKind::Http => {
            let exit_err =
                |e: &dyn std::fmt::Display| DialError::Exit(format!("exit {}: {e}", exit.entry.id));
            stream
                .write_all(&http::connect_request(dest, up.credentials()))
                .await
                .map_err(|e| exit_err(&e))?;
            let mut buffered = Buffered::new(stream);
            let head = http::read_response(&mut buffered, MAX_UPSTREAM_HEAD)
                .await
                .map_err(|e| exit_err(&e))?;
            match head.status {
                200..=299 => {
                    let (stream, leftover) = buffered.into_parts();
                    Ok(Dialed { stream, leftover })
                }
                // only a refusal of our own credentials is the exit's fault: any other answer
                // is about the destination (squid answers 503 and tinyproxy 500 to a name
                // that does not resolve), and counting it would let one customer open every
                // exit's breaker by asking for dead destinations
                407 => Err(exit_err(&"refused our credentials (407)")),
                status => Err(DialError::Destination {
                    detail: format!("exit {} answered {status} for {dest}", exit.entry.id),
                    socks_reply: match status {
                        403 => 0x02,
                        502..=504 => 0x04,
                        _ => socks5::REPLY_FAILURE,
                    },
                    upstream_status: Some(status),
                }),
            }
        }
        ExitKind::Socks5 => {
            // buffered, so a reply arrives in one system call; a server that speaks first (an
            // SSH banner) may have its first bytes in the buffer already
            let mut reader = BufReader::with_capacity(SOCKS_REPLY_BUFFER, &mut stream);
            let result = socks5::client_connect(&mut reader, dest, up.credentials()).await;
            let leftover = BytesMut::from(reader.buffer());
            match result {
                Ok(()) => Ok(Dialed { stream, leftover }),
                Err(SocksError::Reply(code)) => Err(DialError::Destination {
                    detail: format!("exit {} replied {code} for {dest}", exit.entry.id),
                    socks_reply: code,
                    upstream_status: None,
                }),
                Err(e) => Err(DialError::Exit(format!("exit {}: {e}", exit.entry.id))),
            }
        }
    }
}
