//! Accepting connections, and nothing else: each accepted connection takes a slot of the global
//! connection cap (at the cap the listener pauses and clients wait in the kernel backlog),
//! resource exhaustion (EMFILE and friends) backs off instead of spinning, and each connection
//! gets its own task. Also raises the file-descriptor limit at start-up.

use std::sync::Arc;
use std::time::Duration;

use rustix::io::Errno;
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::connection::{self, Protocol};
use crate::engine::Engine;

/// File descriptors kept aside for listeners, upstream probes, logs and the embedding service.
const FD_RESERVE: u64 = 256;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns how many client connections
/// the descriptors allow (each relayed connection holds two).
pub(crate) fn raise_fd_limit() -> Option<u64> {
    let limit = getrlimit(Resource::Nofile);
    let target = match (limit.current, limit.maximum) {
        (Some(cur), Some(max)) if cur < max => Some(max),
        (Some(_), None) => Some(1 << 20),
        _ => None,
    };
    if let Some(want) = target
        && let Err(e) = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(want),
                maximum: limit.maximum,
            },
        )
    {
        tracing::warn!(error = %e, "could not raise the file-descriptor limit");
    }
    let now = getrlimit(Resource::Nofile).current?;
    let capacity = now.saturating_sub(FD_RESERVE) / 2;
    tracing::info!(
        fd_limit = now,
        connection_capacity = capacity,
        "file-descriptor limit"
    );
    Some(capacity)
}

fn is_resource_exhaustion(e: &std::io::Error) -> bool {
    Errno::from_io_error(e).is_some_and(|n| {
        matches!(
            n,
            Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM
        )
    })
}

/// Accepts until `stop` is cancelled; connections are spawned on `tracker`.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    engine: Arc<Engine>,
    protocol: Protocol,
    tracker: TaskTracker,
    stop: CancellationToken,
) {
    let mut backoff = Duration::from_millis(5);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = stop.cancelled() => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff = Duration::from_millis(5);
                // at the global cap this listener pauses here, so new clients queue in the
                // kernel backlog until a connection ends
                let slot = tokio::select! {
                    s = engine.slots.clone().acquire_owned() => s,
                    () = stop.cancelled() => return,
                };
                // the semaphore is never closed
                let Ok(slot) = slot else { return };
                stream.set_nodelay(true).ok();
                let engine = engine.clone();
                tracker.spawn(async move {
                    connection::serve(engine, stream, peer, protocol).await;
                    drop(slot);
                });
            }
            Err(e) if is_resource_exhaustion(&e) => {
                let pause_ms = backoff.as_millis() as u64;
                tracing::warn!(error = %e, pause_ms, "accept: out of resources; backing off");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stop.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
            // per-connection errors (the peer reset before we accepted, …)
            Err(e) => tracing::debug!(error = %e, "accept failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_exhaustion_is_recognised() {
        for errno in [Errno::MFILE, Errno::NFILE, Errno::NOBUFS, Errno::NOMEM] {
            assert!(is_resource_exhaustion(&std::io::Error::from(errno)));
        }
        assert!(!is_resource_exhaustion(&std::io::Error::from(
            Errno::CONNABORTED
        )));
    }

    #[test]
    fn fd_limit_is_raised_to_the_hard_limit() {
        let capacity = raise_fd_limit().expect("limit known");
        let now = getrlimit(Resource::Nofile);
        assert_eq!(now.current, now.maximum.or(now.current));
        assert_eq!(
            capacity,
            now.current.unwrap_or(0).saturating_sub(FD_RESERVE) / 2
        );
    }
}
