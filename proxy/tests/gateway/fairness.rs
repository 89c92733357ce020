//! One customer, or one stranger, must not harm the others: idle unauthenticated sockets are
//! shed (a source past its share at once, the largest holder first when the gateway's budget is
//! full) while the listener keeps serving everybody else; sticky sessions are limited to a
//! share of the table per account.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proxy::GatewayConfig;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::support::*;

/// A connection from `source` (a loopback address) that sends nothing.
async fn idle_from(source: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{source}:0").parse().expect("source"))
        .expect("bind source");
    socket.connect(to).await.expect("connect")
}

/// Whether the gateway closed `s` within `within` (without a byte).
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut b = [0u8; 1];
    matches!(
        tokio::time::timeout(within, s.read(&mut b)).await,
        Ok(Ok(0) | Err(_))
    )
}

fn fair_config() -> GatewayConfig {
    GatewayConfig {
        max_unauthenticated_per_source: 4,
        max_unauthenticated: 6,
        head_timeout: Duration::from_secs(20),
        ..test_config()
    }
}

#[tokio::test]
async fn idle_strangers_are_shed_and_everybody_else_is_still_served() {
    bounded(60, async {
        let origin = Origin::start().await;
        let dir = MemDirectory::new(
            vec![account(5, "alice", "s3cret", Some(unlimited()))],
            vec![],
        );
        let gw = TestGateway::start(fair_config(), dir).await;
        let url = origin.url("/bytes/3");

        // one source holds its whole share; its next socket is closed at once, unanswered
        let mut hog = Vec::new();
        for _ in 0..4 {
            hog.push(idle_from("127.0.0.2", gw.http).await);
        }
        let mut extra = idle_from("127.0.0.2", gw.http).await;
        let started = Instant::now();
        assert!(closed_within(&mut extra, Duration::from_secs(5)).await);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "shed, not timed out"
        );

        // a second source fills the gateway's budget (4 + 2 = 6)
        let mut other = Vec::new();
        for _ in 0..2 {
            other.push(idle_from("127.0.0.3", gw.http).await);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;

        // a customer still gets in: the oldest socket of the largest holder makes room
        let r = proxied_get(gw.http, &url, Some(("alice", "s3cret"))).await;
        assert_eq!(r.status, 200);
        assert!(
            closed_within(&mut hog[0], Duration::from_secs(2)).await,
            "oldest hog shed"
        );
        for s in hog.iter_mut().skip(1).chain(other.iter_mut()) {
            assert!(
                !closed_within(s, Duration::from_millis(50)).await,
                "others kept"
            );
        }
        // SOCKS5 customers too
        let (_s, status, reply) =
            socks_connect(gw.socks, "127.0.0.1", origin.addr.port(), "alice", "s3cret").await;
        assert_eq!((status, reply), (0, Some(0)));
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn ipv6_sources_share_one_budget_per_64() {
    bounded(30, async {
        let Ok(listener) = tokio::net::TcpListener::bind("[::1]:0").await else {
            // the unit tests in `sources.rs` cover the keying; this host has no IPv6 loopback
            assert!(
                std::env::var_os("CI").is_none(),
                "IPv6 loopback required in CI"
            );
            return;
        };
        let socks = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let dir = MemDirectory::new(
            vec![account(5, "alice", "s3cret", Some(unlimited()))],
            vec![],
        );
        let gw = TestGateway::start_on(fair_config(), dir, listener, socks).await;
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(TcpStream::connect(gw.http).await.expect("connect"));
        }
        let mut extra = TcpStream::connect(gw.http).await.expect("connect");
        assert!(closed_within(&mut extra, Duration::from_secs(2)).await);
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_account_keeps_at_most_its_share_of_sticky_sessions() {
    bounded(30, async {
        let origin = Origin::start().await;
        let mut plan = unlimited();
        plan.max_connections = 2; // a share of 20 sessions
        let dir = MemDirectory::new(
            vec![
                account(5, "alice", "s3cret", Some(plan.clone())),
                account(6, "bob", "b0bpw", Some(plan)),
            ],
            vec![],
        );
        let gw = TestGateway::start(test_config(), dir).await;
        let url = origin.url("/bytes/1");
        for i in 0..20 {
            let user = format!("alice-session-s{i}");
            let r = proxied_get(gw.http, &url, Some((&user, "s3cret"))).await;
            assert_eq!(r.status, 200, "session {i}");
        }
        let r = proxied_get(gw.http, &url, Some(("alice-session-s20", "s3cret"))).await;
        assert_eq!(r.status, 429);
        assert_eq!(r.error_code(), Some("rate_limited"));
        assert!(String::from_utf8_lossy(&r.body).contains("sticky sessions"));
        // her live sessions, her session-less requests and other customers go on
        let r = proxied_get(gw.http, &url, Some(("alice-session-s3", "s3cret"))).await;
        assert_eq!(r.status, 200);
        let r = proxied_get(gw.http, &url, Some(("alice", "s3cret"))).await;
        assert_eq!(r.status, 200);
        let r = proxied_get(gw.http, &url, Some(("bob-session-s20", "b0bpw"))).await;
        assert_eq!(r.status, 200);
        gw.stop().await;
    })
    .await;
}
