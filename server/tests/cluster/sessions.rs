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

/// Two counting exits in the directory (country `de`); their counts.
async fn two_counting_exits(cluster: &Cluster, origin: SocketAddr) -> Vec<Arc<AtomicU32>> {
    let mut counts = Vec::new();
    for _ in 0..2 {
        let (addr, count) = counting_exit(origin).await;
        let url = format!("http://{addr}");
        store::exits::add(cluster.db.db(), &NewExit::new(&url, "de"), store::now_ms())
            .await
            .unwrap();
        counts.push(count);
    }
    counts
}

#[tokio::test]
async fn a_session_takes_one_exit_on_every_gateway_until_its_ttl() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let (user, pass) = customer(cluster.db.db(), "ada@example.com", "Starter").await;
    unpaced_starter(cluster.db.db()).await;
    let origin = origin::start().await;
    let counts = two_counting_exits(&cluster, origin).await;
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

/// Reads until the tunnel ends; whether it ended within `limit`.
async fn ends_within(mut tunnel: tokio::net::TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 256];
    tokio::time::timeout(limit, async {
        while tunnel.read(&mut buf).await.is_ok_and(|n| n > 0) {}
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn ending_a_session_through_the_web_node_closes_it_on_every_gateway_and_moves_it() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let (user, pass) = customer(cluster.db.db(), "ada@example.com", "Starter").await;
    unpaced_starter(cluster.db.db()).await;
    let origin = origin::start().await;
    let counts = two_counting_exits(&cluster, origin).await;
    let settings = [
        ("ATLANTIC_EXIT_STRATEGY", "round_robin"),
        ("ATLANTIC_HEALTH_INTERVAL_SECS", "3600"),
    ];
    let (web, a, b) = cluster.web_and_two_gateways(&settings).await;
    let account = store_account(&cluster, "ada@example.com").await;
    let sticky = format!("{user}-session-s1");
    let seen = || {
        [
            counts[0].load(Ordering::SeqCst),
            counts[1].load(Ordering::SeqCst),
        ]
    };

    // one tunnel of the session on each gateway, both through the session's exit
    let (on_a, status) = tunnel(a.http(), origin, &sticky, &pass).await;
    assert_eq!(status, 200);
    let (on_b, status) = tunnel(b.http(), origin, &sticky, &pass).await;
    assert_eq!(status, 200);
    let used = seen();
    let exit = usize::from(used[1] > 0);
    assert_eq!(used[exit], 2, "one exit for the session: {used:?}");

    let (_, token) = store::api_tokens::create(
        cluster.db.db(),
        store::AccountId(account),
        "ops",
        store::api_tokens::Scope::ReadWrite,
        None,
        store::now_ms(),
    )
    .await
    .unwrap();
    let api = reqwest::Client::new();
    let sessions = format!("{}/api/v1/sessions", web.base);
    // the web node sees the session as both gateways report it (their statistics, each second)
    let mut listed = serde_json::Value::Null;
    for _ in 0..50 {
        listed = api
            .get(&sessions)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if listed["sessions"][0]["open_connections"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let s1 = &listed["sessions"][0];
    assert_eq!(s1["session"], "s1", "{listed}");
    assert_eq!(
        s1["open_connections"], 2,
        "a connection on each gateway: {listed}"
    );
    let end = api
        .delete(format!("{sessions}/s1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(end.status(), 204);

    // both gateways close their tunnel of the session
    assert!(
        ends_within(on_a, Duration::from_secs(5)).await,
        "gateway a closed it"
    );
    assert!(
        ends_within(on_b, Duration::from_secs(5)).await,
        "gateway b closed it"
    );
    let probe = cluster.redis.node("probe").await;
    assert!(
        proxy::SharedState::session(&probe, account, "s1")
            .await
            .unwrap()
            .is_none(),
        "the shared binding is gone"
    );
    // the next tunnel of the session gets the other exit (the gateway that ended it avoids
    // the exit it left)
    let (_, status) = tunnel(a.http(), origin, &sticky, &pass).await;
    assert_eq!(status, 200);
    let after = seen();
    assert_eq!(after[1 - exit], 1, "moved to the other exit: {after:?}");
    let again = api
        .delete(format!("{sessions}/nope"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404, "no such session");
    for node in [a, b, web] {
        node.stop().await;
    }
}
