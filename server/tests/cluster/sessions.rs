//! A sticky session on two gateway processes: one exit for the session id on either, and a new
//! binding once its TTL has passed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use store::exits::NewExit;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::clients::tunnel;
use crate::common::customer;
use crate::nodes::{Cluster, unpaced_starter};
use crate::origin;

/// An upstream exit that relays CONNECTs and counts those to `origin` (the gateways' health
/// probes go elsewhere).
async fn counting_exit(origin: SocketAddr) -> (SocketAddr, Arc<AtomicU32>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicU32::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if socket.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                if String::from_utf8_lossy(&head).contains(&origin.to_string()) {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
                if socket
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                let Ok(mut upstream) = tokio::net::TcpStream::connect(origin).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut socket, &mut upstream).await;
            });
        }
    });
    (addr, count)
}

#[tokio::test]
async fn a_session_takes_one_exit_on_every_gateway_until_its_ttl() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let (user, pass) = customer(cluster.db.db(), "ada@example.com", "Starter").await;
    unpaced_starter(cluster.db.db()).await;
    let origin = origin::start().await;
    let mut counts = Vec::new();
    for _ in 0..2 {
        let (addr, count) = counting_exit(origin).await;
        let url = format!("http://{addr}");
        store::exits::add(cluster.db.db(), &NewExit::new(&url, "de"), store::now_ms())
            .await
            .unwrap();
        counts.push(count);
    }
    let settings = [
        ("ATLANTIC_SESSION_TTL_SECS", "3"),
        ("ATLANTIC_EXIT_STRATEGY", "round_robin"),
        ("ATLANTIC_HEALTH_INTERVAL_SECS", "3600"),
    ];
    let (web, a, b) = cluster.web_and_two_gateways(&settings).await;
    let sticky = format!("{user}-session-s1");
    // tunnels, as for https: each opens a new connection through an exit (a forward request
    // may reuse a kept-alive connection through the exit its session had)
    let seen = || {
        [
            counts[0].load(Ordering::SeqCst),
            counts[1].load(Ordering::SeqCst),
        ]
    };
    let before = seen();
    for n in 0..8 {
        let gateway = if n % 2 == 0 { a.http() } else { b.http() };
        let (_, status) = tunnel(gateway, origin, &sticky, &pass).await;
        assert_eq!(status, 200, "tunnel {n}");
    }
    let after = seen();
    let used = [after[0] - before[0], after[1] - before[1]];
    assert!(
        used.iter().filter(|&&n| n > 0).count() == 1,
        "one exit for the session on both gateways: {used:?}"
    );
    let probe = cluster.redis.node("probe").await;
    let binding = proxy::SharedState::session(
        &probe,
        store_account(&cluster, "ada@example.com").await,
        "s1",
    )
    .await
    .unwrap()
    .expect("bound in the cluster");
    assert!(binding.ttl <= Duration::from_secs(3));
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    assert!(
        proxy::SharedState::session(
            &probe,
            store_account(&cluster, "ada@example.com").await,
            "s1"
        )
        .await
        .unwrap()
        .is_none(),
        "expired with its TTL"
    );
    let (_, status) = tunnel(b.http(), origin, &sticky, &pass).await;
    assert_eq!(status, 200);
    let again = proxy::SharedState::session(
        &probe,
        store_account(&cluster, "ada@example.com").await,
        "s1",
    )
    .await
    .unwrap()
    .expect("bound anew");
    assert!(
        again.ttl > Duration::from_secs(2),
        "a fresh TTL: {:?}",
        again.ttl
    );
    for node in [a, b, web] {
        node.stop().await;
    }
}

async fn store_account(cluster: &Cluster, email: &str) -> i64 {
    store::accounts::by_email(cluster.db.db(), email)
        .await
        .unwrap()
        .unwrap()
        .id
        .get()
}
