//! HTTP front: reads request heads on a kept-alive client connection; CONNECT becomes a tunnel,
//! absolute-form requests are forwarded with their bodies framed, reusing the upstream
//! connection while the next request goes to the same origin for the same customer.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::{Pending, open, record_error, refuse, stops};
use crate::account_state::ConnectionPermit;
use crate::admission::{Admitted, Refused, admit};
use crate::buffered::Buffered;
use crate::catalog::Account;
use crate::destination::Destination;
use crate::engine::Engine;
use crate::error::{self, ErrorCode, ProxyError};
use crate::http::{self, BodyLength, HeadError, RequestHead, RequestTarget, copy_body};
use crate::opened::Opened;
use crate::origins::{Origin, PoolKey};
use crate::username::Targeting;

/// The answer to a CONNECT that went through: it names the exit (`0`: direct egress), so a
/// customer (and the dashboard's "Test my proxy") can tell which one carries the tunnel.
fn established(exit_id: i64) -> Vec<u8> {
    format!("HTTP/1.1 200 Connection established\r\nX-Atlantic-Exit: {exit_id}\r\n\r\n")
        .into_bytes()
}
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// What to do after one request.
enum Next {
    KeepAlive,
    Close,
    Tunnel(Box<Opened>, Arc<Account>),
    /// The origin accepted the client's protocol upgrade (`101`): relay both ways until the end.
    Upgraded(Box<Opened>, CancellationToken),
}

/// State of one client connection across its requests.
struct ClientConn<'a> {
    engine: &'a Engine,
    peer: SocketAddr,
    /// Held until the connection first authenticates.
    pending: Option<Pending>,
    permit: Option<ConnectionPermit>,
    /// The origin connection of the last request, if it can serve another.
    origin: Option<Origin>,
}

impl ClientConn<'_> {
    /// Hands the kept origin connection to the shared pool.
    fn park_origin(&mut self) {
        if let Some(o) = self.origin.take() {
            self.engine.origins.put(o);
        }
    }
}

impl Drop for ClientConn<'_> {
    fn drop(&mut self) {
        self.park_origin();
    }
}

pub(super) async fn serve(engine: &Engine, stream: TcpStream, peer: SocketAddr, pending: Pending) {
    let cfg = &engine.config;
    let mut client = Buffered::new(stream);
    let mut conn = ClientConn {
        engine,
        peer,
        pending: Some(pending),
        permit: None,
        origin: None,
    };
    let mut first = true;
    loop {
        let wait = if first {
            cfg.head_timeout
        } else {
            cfg.keepalive_timeout
        };
        let read = tokio::time::timeout(wait, http::read_request(&mut client, cfg.max_head_bytes));
        // a connection not yet authenticated is closed when shed to make room for others
        let shed_now = async {
            match &conn.pending {
                Some(pending) => pending.shed().cancelled().await,
                None => std::future::pending().await,
            }
        };
        let head = tokio::select! {
            r = read => r,
            () = engine.drain.cancelled(), if !first => return,
            () = engine.force.cancelled() => return,
            () = shed_now => return,
        };
        let head = match head {
            Ok(Ok(h)) => h,
            Err(_) if first => {
                let answer =
                    error::protocol_error_response(408, "request head not received in time");
                return refuse(engine, &mut client, &answer).await;
            }
            Err(_) | Ok(Err(HeadError::Closed | HeadError::Io(_))) => return,
            Ok(Err(HeadError::TooLarge)) => {
                let answer = error::protocol_error_response(431, "request head too large");
                return refuse(engine, &mut client, &answer).await;
            }
            Ok(Err(HeadError::Malformed(why))) => {
                return refuse(
                    engine,
                    &mut client,
                    &error::protocol_error_response(400, why),
                )
                .await;
            }
        };
        first = false;
        let next = conn.handle(&mut client, &head).await;
        // The head's bytes share the read buffer's allocation: dropped here, a tunnel does not
        // keep the buffer alive for as long as it stays open.
        drop(head);
        match next {
            Next::KeepAlive => {}
            Next::Close => return,
            Next::Tunnel(opened, _account) => {
                // this connection has no use for its origin connection any more
                conn.park_origin();
                let cut = opened.tally.cut_token();
                let greeting = established(opened.exit_id);
                return tunnel(engine, client, *opened, cut, Some(&greeting)).await;
            }
            Next::Upgraded(opened, cut) => {
                conn.park_origin();
                return tunnel(engine, client, *opened, cut, None).await;
            }
        }
    }
}

/// Runs a body copy to its end, or gives `None` when the drain deadline passes or the account
/// is cut off first.
async fn unless_stopped<T>(
    engine: &Engine,
    cut: &CancellationToken,
    copy: impl Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        r = copy => Some(r),
        () = engine.force.cancelled() => None,
        () = cut.cancelled() => None,
    }
}

/// Relays a tunnel (CONNECT, after sending `greeting`) or an upgraded connection to the end.
async fn tunnel(
    engine: &Engine,
    client: Buffered<TcpStream>,
    opened: Opened,
    cut: CancellationToken,
    greeting: Option<&[u8]>,
) {
    let (mut stream, early) = client.into_parts();
    if let Some(greeting) = greeting {
        let wrote =
            tokio::time::timeout(engine.config.head_timeout, stream.write_all(greeting)).await;
        if !matches!(wrote, Ok(Ok(()))) {
            return;
        }
    }
    let end = opened.relay(stream, early, stops(engine, &cut)).await;
    tracing::trace!(?end, "tunnel closed");
}

impl ClientConn<'_> {
    async fn reject(
        &mut self,
        client: &mut Buffered<TcpStream>,
        err: ProxyError,
        account: Option<&Account>,
    ) -> Next {
        record_error(self.engine, account, &err);
        refuse(self.engine, client, &err.http_response()).await;
        Next::Close
    }

    async fn handle(&mut self, client: &mut Buffered<TcpStream>, head: &RequestHead) -> Next {
        let engine = self.engine;
        let Some(accounts) = engine.catalog.current() else {
            refuse(engine, client, &error::not_ready_response()).await;
            return Next::Close;
        };
        let target = match head.target() {
            Ok(t) => t,
            Err(e) => {
                let why = match e {
                    HeadError::Malformed(why) => why,
                    _ => "bad request target",
                };
                refuse(engine, client, &error::protocol_error_response(400, why)).await;
                return Next::Close;
            }
        };
        let credentials = match head.proxy_credentials() {
            None => None,
            Some(Some(c)) => Some(c),
            Some(None) => {
                let err = ProxyError::new(
                    ErrorCode::BadCredentials,
                    "unreadable Proxy-Authorization header",
                );
                return self.reject(client, err, None).await;
            }
        };
        let creds = credentials.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));
        let found = accounts.authenticate(creds, self.peer.ip());
        let Admitted {
            account,
            targeting,
            permit,
        } = match admit(engine, found, self.permit.as_ref()).await {
            Ok(admitted) => admitted,
            Err(Refused { error, account }) => {
                return self.reject(client, error, account.as_deref()).await;
            }
        };
        if let Some(permit) = permit {
            // the connection now works for another account: what it kept for the previous one
            // goes back to the shared pool
            self.permit = Some(permit);
            self.park_origin();
            self.pending = None;
        }
        match target {
            RequestTarget::Tunnel(dest) => match open(engine, &account, &targeting, &dest).await {
                Ok(opened) => {
                    opened.tally.request();
                    Next::Tunnel(Box::new(opened), account)
                }
                Err(e) => self.reject(client, e, Some(&account)).await,
            },
            RequestTarget::Forward { dest, path } => {
                self.forward(client, head, &account, targeting, dest, &path)
                    .await
            }
        }
    }

    /// Sends one request to the origin and relays its response.
    async fn forward(
        &mut self,
        client: &mut Buffered<TcpStream>,
        head: &RequestHead,
        account: &Account,
        targeting: Targeting,
        dest: Destination,
        path: &str,
    ) -> Next {
        let engine = self.engine;
        let idle = engine.config.idle_timeout;
        let Ok(body) = BodyLength::of_request(head) else {
            let answer = error::protocol_error_response(400, "unsupported request framing");
            refuse(engine, client, &answer).await;
            return Next::Close;
        };
        let expect = head.expects_continue() && body != BodyLength::Empty;
        let upgrade = head.upgrade().is_some();
        let mut attempt = 0;
        let (mut origin, response, cut) = loop {
            attempt += 1;
            // a bodiless request on a connection the origin closed meanwhile is simply retried;
            // one with a body is only sent on a connection seen alive (costs a syscall)
            let mut kept = None;
            if let Some(o) = self.origin.take() {
                if o.tally.session_ended() {
                    // its session was ended: the next request picks an exit anew
                    drop(o);
                } else if !o.key.matches(account.id, &dest, &targeting) {
                    engine.origins.put(o);
                } else if body == BodyLength::Empty || o.is_fresh() {
                    kept = Some(o);
                }
            }
            // built only when this connection had nothing for the request
            let key = || PoolKey {
                account_id: account.id,
                dest: dest.clone(),
                targeting: targeting.clone(),
            };
            if kept.is_none() && attempt == 1 {
                kept = engine.origins.take(&key());
            }
            let reused = kept.is_some();
            let mut origin = match kept {
                Some(o) => o,
                None => match open(engine, account, &targeting, &dest).await {
                    Ok(opened) => Origin::new(opened, key()),
                    Err(e) => return self.reject(client, e, Some(account)).await,
                },
            };
            // a quota cut-off, an ended session or the end of the drain stops a long body half-way
            let cut = origin.tally.cut_token();
            // a stale kept-alive connection fails before any response byte: retry once on a fresh
            // one, as long as no request body has been consumed
            let may_retry = reused && body == BodyLength::Empty && attempt == 1;
            if expect && attempt == 1 {
                if client.write_all(CONTINUE).await.is_err() {
                    return Next::Close;
                }
                origin.tally.down(CONTINUE.len() as u64);
            }
            let tally = &origin.tally;
            let count_up = |n: u64| tally.up(n);
            let out = head.to_origin(&dest, path, expect);
            let upload = copy_body(client, &mut origin.stream, out, body, idle, &count_up);
            let Some(res) = unless_stopped(engine, &cut, upload).await else {
                return Next::Close;
            };
            if res.is_err() {
                if may_retry {
                    continue;
                }
                let err = ProxyError::new(
                    ErrorCode::UpstreamFailed,
                    format!("sending the request to {dest} failed"),
                );
                return self.reject(client, err, Some(account)).await;
            }
            match self.read_final_response(client, &mut origin, upgrade).await {
                Ok(r) => break (origin, r, cut),
                Err(Some(_)) if may_retry => continue,
                Err(Some(err)) => return self.reject(client, err, Some(account)).await,
                Err(None) => return Next::Close,
            }
        };
        origin.tally.request();
        if response.status == 101 {
            // the origin switched to the protocol the client asked for (a WebSocket, say): from
            // here on the connection is a tunnel, metered like one
            let out = response.to_client_switching();
            let tally = &origin.tally;
            let count_down = |n: u64| tally.down(n);
            let sent = copy_body(
                &mut origin.stream,
                client,
                out,
                BodyLength::Empty,
                idle,
                &count_down,
            )
            .await;
            if sent.is_err() {
                return Next::Close;
            }
            return Next::Upgraded(Box::new(origin.into_opened()), cut);
        }
        let Ok(resp_body) = BodyLength::of_response(head.method(), &response) else {
            let err = ProxyError::new(
                ErrorCode::UpstreamFailed,
                "origin sent an unframable response",
            );
            return self.reject(client, err, Some(account)).await;
        };
        let close = head.wants_close()
            || resp_body == BodyLength::UntilClose
            || engine.drain.is_cancelled();
        let out = response.to_client(head.version, close);
        let tally = &origin.tally;
        let count_down = |n: u64| tally.down(n);
        let download = copy_body(
            &mut origin.stream,
            client,
            out,
            resp_body,
            idle,
            &count_down,
        );
        if !matches!(unless_stopped(engine, &cut, download).await, Some(Ok(_))) {
            return Next::Close;
        }
        let origin_reusable =
            response.version == 1 && !response.wants_close() && resp_body != BodyLength::UntilClose;
        if origin_reusable {
            if close {
                engine.origins.put(origin);
            } else {
                self.origin = Some(origin);
            }
        }
        if close {
            let _ = client.get_mut().shutdown().await;
            return Next::Close;
        }
        Next::KeepAlive
    }

    /// Reads the origin's final response head, relaying interim (1xx) ones; `101` is final
    /// when the client asked to `upgrade`. `Err(None)` when the client went away meanwhile.
    async fn read_final_response(
        &self,
        client: &mut Buffered<TcpStream>,
        origin: &mut Origin,
        upgrade: bool,
    ) -> Result<http::ResponseHead, Option<ProxyError>> {
        let cfg = &self.engine.config;
        loop {
            let read = tokio::time::timeout(
                cfg.idle_timeout,
                http::read_response(&mut origin.stream, cfg.max_head_bytes),
            )
            .await;
            let head = match read {
                Err(_) => {
                    return Err(Some(ProxyError::new(
                        ErrorCode::ConnectTimeout,
                        format!("{} sent no response in time", origin.key.dest),
                    )));
                }
                Ok(Err(e)) => {
                    return Err(Some(ProxyError::new(
                        ErrorCode::UpstreamFailed,
                        format!("reading the response of {}: {e}", origin.key.dest),
                    )));
                }
                Ok(Ok(h)) => h,
            };
            if head.status == 101 && upgrade {
                return Ok(head);
            }
            if head.status == 101 {
                return Err(Some(ProxyError::new(
                    ErrorCode::UpstreamFailed,
                    "origin switched protocols without being asked",
                )));
            }
            if !(100..200).contains(&head.status) {
                return Ok(head);
            }
            let interim = head.to_client(1, false);
            if client.write_all(&interim).await.is_err() {
                return Err(None);
            }
            origin.tally.down(interim.len() as u64);
        }
    }
}
