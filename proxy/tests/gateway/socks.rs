//! SOCKS5 front: RFC 1928/1929 with real clients, allowlist, and reply codes.

use std::time::Duration;

use proxy::GatewayConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

async fn gateway() -> TestGateway {
    let dir = MemDirectory::new(
        vec![account(1, "alice", "s3cret", Some(unlimited()))],
        vec![],
    );
    TestGateway::start(test_config(), dir).await
}

#[tokio::test]
async fn reqwest_through_socks5_with_password() {
    bounded(20, async {
        let origin = Origin::start().await;
        let gw = gateway().await;
        for scheme in ["socks5", "socks5h"] {
            let proxy =
                reqwest::Proxy::all(format!("{scheme}://alice-session-q:s3cret@{}", gw.socks))
                    .expect("proxy");
            let client = reqwest::Client::builder()
                .proxy(proxy)
                .build()
                .expect("client");
            let url = if scheme == "socks5h" {
                format!("http://localhost:{}/bytes/512", origin.addr.port())
            } else {
                origin.url("/bytes/512")
            };
            let res = client.get(url).send().await.expect("send");
            assert_eq!(res.status(), 200);
            assert_eq!(res.bytes().await.expect("body").len(), 512);
        }
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn curl_through_socks5_hostname() {
    bounded(30, async {
        let origin = Origin::start().await;
        let gw = gateway().await;
        let url = format!("http://localhost:{}/bytes/300", origin.addr.port());
        let (code, body) = curl(&[
            "--socks5-hostname",
            &gw.socks.to_string(),
            "-U",
            "alice:s3cret",
            &url,
        ])
        .await;
        assert_eq!((code, body.len()), (0, 300));
        let (code, _) = curl(&[
            "--socks5-hostname",
            &gw.socks.to_string(),
            "-U",
            "alice:bad",
            &url,
        ])
        .await;
        assert_ne!(code, 0);
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn wrong_password_fails_subnegotiation_and_closes() {
    bounded(20, async {
        let gw = gateway().await;
        let (mut s, status, reply) =
            socks_connect(gw.socks, "127.0.0.1", 80, "alice", "wrong").await;
        assert_eq!((status, reply), (1, None));
        let mut rest = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut rest))
            .await
            .expect("closed")
            .unwrap_or(0);
        assert_eq!(n, 0, "closed after failure");
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn no_auth_is_rejected_unless_the_source_is_allowlisted() {
    bounded(20, async {
        let echo = Echo::start().await;
        let gw = gateway().await;
        let mut s = TcpStream::connect(gw.socks).await.expect("connect");
        s.write_all(&[5, 1, 0]).await.expect("greeting");
        let mut choice = [0u8; 2];
        s.read_exact(&mut choice).await.expect("choice");
        assert_eq!(choice, [5, 0xff]);
        gw.stop().await;

        let dir = MemDirectory::new(
            vec![account(1, "alice", "s3cret", Some(unlimited()))],
            vec![],
        );
        dir.update(|d| d.accounts[0].allowlist = vec!["127.0.0.1/32".parse().expect("net")]);
        let gw = TestGateway::start(test_config(), dir).await;
        let mut s = TcpStream::connect(gw.socks).await.expect("connect");
        s.write_all(&[5, 1, 0]).await.expect("greeting");
        s.read_exact(&mut choice).await.expect("choice");
        assert_eq!(choice, [5, 0]);
        let mut req = vec![5, 1, 0, 1, 127, 0, 0, 1];
        req.extend_from_slice(&echo.addr.port().to_be_bytes());
        s.write_all(&req).await.expect("request");
        let mut reply = [0u8; 10];
        s.read_exact(&mut reply).await.expect("reply");
        assert_eq!(reply[1], 0);
        s.write_all(b"ping").await.expect("write");
        let mut back = [0u8; 4];
        s.read_exact(&mut back).await.expect("echo");
        assert_eq!(&back, b"ping");
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn refusals_map_to_socks_reply_codes() {
    bounded(20, async {
        let closed = closed_port().await;
        let gw = gateway().await;
        let (_, _, reply) = socks_connect(gw.socks, "127.0.0.1", 25, "alice", "s3cret").await;
        assert_eq!(reply, Some(0x02), "blocked port: not allowed by ruleset");
        let (_, _, reply) =
            socks_connect(gw.socks, "127.0.0.1", closed.port(), "alice", "s3cret").await;
        assert_eq!(reply, Some(0x05), "refused");
        let (_, status, reply) = socks_connect(
            gw.socks,
            "127.0.0.1",
            closed.port(),
            "alice-country-zz",
            "s3cret",
        )
        .await;
        assert_eq!(
            (status, reply),
            (0, Some(0x02)),
            "bad parameters after good credentials"
        );
        let (_, _, reply) = socks_connect(
            gw.socks,
            "127.0.0.1",
            closed.port(),
            "alice-country-de",
            "s3cret",
        )
        .await;
        assert_eq!(reply, Some(0x03), "no exit: network unreachable");
        gw.stop().await;

        let strict = GatewayConfig {
            allow_private_destinations: false,
            ..test_config()
        };
        let dir = MemDirectory::new(
            vec![account(1, "alice", "s3cret", Some(unlimited()))],
            vec![],
        );
        let gw = TestGateway::start(strict, dir).await;
        let (_, _, reply) = socks_connect(gw.socks, "localhost", 8080, "alice", "s3cret").await;
        assert_eq!(reply, Some(0x02), "name resolving to loopback");
        let (_, _, reply) = socks_connect(gw.socks, "::1", 8080, "alice", "s3cret").await;
        assert_eq!(reply, Some(0x02));
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn unsupported_command_gets_reply_7() {
    bounded(20, async {
        let gw = gateway().await;
        let mut s = TcpStream::connect(gw.socks).await.expect("connect");
        s.write_all(&[
            5, 1, 2, 1, 5, b'a', b'l', b'i', b'c', b'e', 6, b's', b'3', b'c', b'r', b'e', b't',
        ])
        .await
        .expect("hello");
        let mut b = [0u8; 4];
        s.read_exact(&mut b).await.expect("method + auth");
        assert_eq!(b, [5, 2, 1, 0]);
        s.write_all(&[5, 2, 0, 1, 127, 0, 0, 1, 0, 80])
            .await
            .expect("BIND");
        let mut reply = [0u8; 2];
        s.read_exact(&mut reply).await.expect("reply");
        assert_eq!(reply, [5, 7]);
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_handshake_sent_in_one_write_with_optimistic_data_loses_nothing() {
    bounded(20, async {
        let echo = Echo::start().await;
        let gw = gateway().await;
        let mut s = TcpStream::connect(gw.socks).await.expect("connect");
        let mut all = vec![5, 1, 2];
        all.extend_from_slice(&[1, 5, b'a', b'l', b'i', b'c', b'e']);
        all.extend_from_slice(&[6, b's', b'3', b'c', b'r', b'e', b't']);
        let std::net::SocketAddr::V4(to) = echo.addr else {
            panic!("echo listens on IPv4");
        };
        all.extend_from_slice(&[5, 1, 0, 1]);
        all.extend_from_slice(&to.ip().octets());
        all.extend_from_slice(&to.port().to_be_bytes());
        // the payload rides in the same segment as the request, before any reply
        all.extend_from_slice(b"optimistic payload");
        s.write_all(&all).await.expect("everything at once");
        let mut answers = [0u8; 2 + 2 + 10];
        s.read_exact(&mut answers)
            .await
            .expect("method, status, reply");
        assert_eq!(answers[..6], [5, 2, 1, 0, 5, 0]);
        let mut echoed = [0u8; 18];
        s.read_exact(&mut echoed).await.expect("echo");
        assert_eq!(&echoed, b"optimistic payload");
        assert_eq!(echo.bytes.load(std::sync::atomic::Ordering::SeqCst), 18);
        gw.stop().await;
    })
    .await;
}
