//! A stand-in for an exit's address that fails on command, the ways real exits fail. Stopping
//! an upstream gateway is not enough to model a dead host: its connection tasks outlive an
//! aborted `run`, and a graceful stop says goodbye (FIN) after its drain. This front instead
//! forwards each connection to the real upstream behind it until it is cut: then every
//! connection is reset (RST, nothing more said) and the port is closed, as when the host or its
//! link dies. A black-holed front accepts connections and never answers a byte (a hung process,
//! a stuck NAT).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub struct ExitFront {
    pub addr: SocketAddr,
    /// Connections accepted so far (customers' and health probes').
    pub accepted: Arc<AtomicUsize>,
    cut: CancellationToken,
    accepting: JoinHandle<()>,
    connections: TaskTracker,
}

impl ExitFront {
    /// Forwards every connection to `upstream` until cut.
    pub async fn forwarding(upstream: SocketAddr) -> ExitFront {
        Self::start(Some(upstream)).await
    }

    /// Accepts every connection and never says a word.
    pub async fn black_hole() -> ExitFront {
        Self::start(None).await
    }

    async fn start(upstream: Option<SocketAddr>) -> ExitFront {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind exit front");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let cut = CancellationToken::new();
        let connections = TaskTracker::new();
        let accepting = tokio::spawn({
            let (accepted, cut, connections) = (accepted.clone(), cut.clone(), connections.clone());
            async move {
                loop {
                    let stream = tokio::select! {
                        r = listener.accept() => match r {
                            Ok((s, _)) => s,
                            Err(_) => continue,
                        },
                        // the listener is dropped here: the port refuses from now on
                        () = cut.cancelled() => return,
                    };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    connections.spawn(hold(stream, upstream, cut.clone()));
                }
            }
        });
        ExitFront {
            addr,
            accepted,
            cut,
            accepting,
            connections,
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Resets every connection and closes the port; returns once both are done (so the port
    /// can be bound again at once), with the address the exit had.
    pub async fn cut(self) -> SocketAddr {
        self.cut.cancel();
        self.accepting.await.expect("accept loop ended");
        self.connections.close();
        self.connections.wait().await;
        self.addr
    }
}

/// Relays `client` to `upstream` (or holds it in silence) until either side is done or the
/// front is cut, which resets both.
async fn hold(mut client: TcpStream, upstream: Option<SocketAddr>, cut: CancellationToken) {
    let mut far = match upstream {
        Some(to) => match TcpStream::connect(to).await {
            Ok(s) => Some(s),
            Err(_) => return,
        },
        None => None,
    };
    let relay = async {
        match far.as_mut() {
            Some(far) => {
                let _ = tokio::io::copy_bidirectional(&mut client, far).await;
            }
            None => std::future::pending().await,
        }
    };
    let cut_off = tokio::select! {
        () = relay => false,
        () = cut.cancelled() => true,
    };
    if cut_off {
        reset_on_close(&client);
        if let Some(far) = &far {
            reset_on_close(far);
        }
    }
}

/// A zero linger time makes closing the socket send RST instead of FIN.
fn reset_on_close(s: &TcpStream) {
    rustix::net::sockopt::set_socket_linger(s, Some(Duration::ZERO)).expect("SO_LINGER");
}
