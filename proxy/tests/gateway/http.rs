//! HTTP front: forward and CONNECT, authentication, protocol errors, keep-alive, framing.

use std::time::{Duration, Instant};

use proxy::{GatewayConfig, PlanLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

pub(crate) async fn gateway_with(config: GatewayConfig, plan: Option<PlanLimits>) -> TestGateway {
    let dir = MemDirectory::new(vec![account(1, "alice", "s3cret", plan)], vec![]);
    TestGateway::start(config, dir).await
}

pub(crate) async fn gateway() -> TestGateway {
    gateway_with(test_config(), Some(unlimited())).await
}

pub(crate) fn assert_error(r: &RawResponse, status: u16, code: &str) {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(r.error_code(), Some(code), "{r:?}");
    let ps = r.header("proxy-status").expect("Proxy-Status header");
    assert!(ps.starts_with("atlantic; error="), "{ps}");
    assert!(ps.contains("details=\""), "{ps}");
    let body = String::from_utf8_lossy(&r.body);
    assert!(body.starts_with(&format!("{code}: ")), "{body}");
    assert_eq!(body.matches('\n').count(), 1, "one line: {body}");
}

#[tokio::test]
async fn reqwest_forward_get_with_credentials_reaches_origin() {
    bounded(20, async {
        let origin = Origin::start().await;
        let gw = gateway().await;
        let client = reqwest::Client::builder()
            .proxy(reqwest::Proxy::http(gw.http_url("alice-session-abc", "s3cret")).expect("proxy"))
            .build()
            .expect("client");
        for _ in 0..3 {
            let res = client
                .get(origin.url("/bytes/1024"))
                .send()
                .await
                .expect("send");
            assert_eq!(res.status(), 200);
            assert_eq!(res.bytes().await.expect("body").len(), 1024);
        }
        let res = client
            .post(origin.url("/echo"))
            .body("hello origin")
            .send()
            .await
            .expect("post");
        assert_eq!(res.text().await.expect("text"), "hello origin");
        assert_eq!(
            origin.connections.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "one kept-alive origin connection"
        );
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn slowloris_head_is_cut_after_the_head_timeout() {
    bounded(20, async {
        let config = GatewayConfig {
            head_timeout: Duration::from_millis(300),
            ..test_config()
        };
        let gw = gateway_with(config, Some(unlimited())).await;
        let mut s = TcpStream::connect(gw.http).await.expect("connect");
        let started = Instant::now();
        s.write_all(b"GET http://example.com/ HTTP/1.1\r\nHost: exa")
            .await
            .expect("partial head");
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if s.write_all(b"m").await.is_err() {
                break;
            }
        }
        let mut got = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut got))
            .await
            .expect("closed in time");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "cut after ~300 ms, took {:?}",
            started.elapsed()
        );
        assert!(
            got.starts_with(b"HTTP/1.1 408 "),
            "{}",
            String::from_utf8_lossy(&got)
        );
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn oversize_head_is_431_and_garbage_is_400() {
    bounded(20, async {
        let gw = gateway().await;
        let big = format!(
            "GET http://example.com/ HTTP/1.1\r\nX-Big: {}\r\n\r\n",
            "a".repeat(70 * 1024)
        );
        let r = raw_request(gw.http, &big).await;
        assert_eq!(r.status, 431, "{r:?}");
        assert!(r.header("proxy-status").is_some());
        let r = raw_request(gw.http, "HELLO\x01 there\r\n\r\n").await;
        assert_eq!(r.status, 400);
        let r = raw_request(gw.http, "GET /relative HTTP/1.1\r\nHost: a\r\n\r\n").await;
        assert_eq!(r.status, 400);
        let r = raw_request(gw.http, "GET https://a.com/ HTTP/1.1\r\nHost: a\r\n\r\n").await;
        assert_eq!(r.status, 400);
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn allowlisted_source_needs_no_password() {
    bounded(20, async {
        let origin = Origin::start().await;
        let dir = MemDirectory::new(
            vec![account(1, "alice", "s3cret", Some(unlimited()))],
            vec![],
        );
        dir.update(|s| s.accounts[0].allowlist = vec!["127.0.0.0/8".parse().expect("net")]);
        let gw = TestGateway::start(test_config(), dir).await;
        let r = proxied_get(gw.http, &origin.url("/bytes/10"), None).await;
        assert_eq!(r.status, 200);
        let r = proxied_get(gw.http, &origin.url("/bytes/10"), Some(("alice", "wrong"))).await;
        assert_eq!(
            r.status, 200,
            "allowlisted source may use the username without the password"
        );
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn before_the_first_snapshot_requests_get_503() {
    bounded(20, async {
        let origin = Origin::start().await;
        let dir = MemDirectory::new(
            vec![account(1, "alice", "s3cret", Some(unlimited()))],
            vec![],
        );
        dir.failing.store(true, std::sync::atomic::Ordering::SeqCst);
        let gw = TestGateway::start(test_config(), dir.clone()).await;
        let r = proxied_get(gw.http, &origin.url("/bytes/1"), Some(("alice", "s3cret"))).await;
        assert_eq!(r.status, 503);
        assert!(
            r.header("proxy-status")
                .expect("ps")
                .contains("credentials not loaded yet")
        );
        assert!(!gw.handle.stats().snapshot().ready);
        dir.failing
            .store(false, std::sync::atomic::Ordering::SeqCst);
        gw.handle.refresh_now();
        eventually(5, || gw.handle.stats().snapshot().ready).await;
        let r = proxied_get(gw.http, &origin.url("/bytes/1"), Some(("alice", "s3cret"))).await;
        assert_eq!(r.status, 200);
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn password_change_applies_after_refresh() {
    bounded(20, async {
        let origin = Origin::start().await;
        let gw = gateway().await;
        gw.dir.update(|s| s.accounts[0].password = "n3w".into());
        gw.handle.refresh_now();
        eventually(5, || {
            let dir = gw.dir.clone();
            dir.loads.load(std::sync::atomic::Ordering::SeqCst) >= 2
        })
        .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let r = proxied_get(gw.http, &origin.url("/bytes/1"), Some(("alice", "s3cret"))).await;
        assert_eq!(r.status, 407);
        let r = proxied_get(gw.http, &origin.url("/bytes/1"), Some(("alice", "n3w"))).await;
        assert_eq!(r.status, 200);
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn curl_forward_and_connect_tunnel() {
    bounded(30, async {
        let origin = Origin::start().await;
        let gw = gateway().await;
        let proxy = gw.http_url("alice-session-x1", "s3cret");
        let (code, body) = curl(&["-x", &proxy, &origin.url("/bytes/2048")]).await;
        assert_eq!((code, body.len()), (0, 2048));
        let (code, body) = curl(&["-p", "-x", &proxy, &origin.url("/bytes/100")]).await;
        assert_eq!((code, body.len()), (0, 100), "through CONNECT");
        let (code, _) = curl(&[
            "-f",
            "-x",
            &format!("http://{}", gw.http),
            &origin.url("/bytes/1"),
        ])
        .await;
        assert_ne!(code, 0, "no credentials");
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn keep_alive_serves_sequential_requests_and_chunked_bodies() {
    bounded(20, async {
        let origin = Origin::start().await;
        let gw = gateway().await;
        let auth = basic("alice", "s3cret");
        let mut s = TcpStream::connect(gw.http).await.expect("connect");
        for n in [10, 20, 30] {
            let req = format!("GET {} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: {auth}\r\n\r\n", origin.url(&format!("/bytes/{n}")));
            s.write_all(req.as_bytes()).await.expect("write");
            let r = read_response(&mut s).await;
            assert_eq!((r.status, r.body.len()), (200, n));
            assert!(r.header("connection").is_none());
        }
        let req = format!(
            "POST {} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: {auth}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            origin.url("/echo")
        );
        s.write_all(req.as_bytes()).await.expect("write");
        let r = read_response(&mut s).await;
        assert_eq!(r.body, b"hello world");
        let req = format!("POST {} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: {auth}\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n", origin.url("/echo"));
        s.write_all(req.as_bytes()).await.expect("write");
        let r = read_response(&mut s).await;
        assert_eq!(r.status, 100);
        s.write_all(b"abc").await.expect("body");
        let r = read_response(&mut s).await;
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abc"[..]));
        assert_eq!(origin.connections.load(std::sync::atomic::Ordering::SeqCst), 1);
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn origin_closing_a_kept_alive_connection_is_retried_transparently() {
    bounded(20, async {
        let origin = Origin::start().await;
        let gw = gateway().await;
        let auth = basic("alice", "s3cret");
        let mut s = TcpStream::connect(gw.http).await.expect("connect");
        for path in ["/then-close/10", "/bytes/5"] {
            let req = format!(
                "GET {} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: {auth}\r\n\r\n",
                origin.url(path)
            );
            s.write_all(req.as_bytes()).await.expect("write");
            let r = read_response(&mut s).await;
            assert_eq!(r.status, 200, "{path}");
        }
        assert_eq!(
            origin.connections.load(std::sync::atomic::Ordering::SeqCst),
            2
        );
        let sink = gw.stop().await;
        assert_eq!(sink.totals(1).3, 0, "no error recorded");
    })
    .await;
}

#[tokio::test]
async fn chunked_responses_head_and_http10_clients_are_relayed() {
    bounded(20, async {
        let origin = Origin::start().await;
        let gw = gateway().await;
        let auth = basic("alice", "s3cret");
        let mut s = TcpStream::connect(gw.http).await.expect("connect");
        let req = format!(
            "GET {} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: {auth}\r\n\r\n",
            origin.url("/chunked/2500")
        );
        s.write_all(req.as_bytes()).await.expect("write");
        // read until the chunked terminator and trailer, then the connection must still work
        let mut got = Vec::new();
        let mut chunk = [0u8; 4096];
        while !got.ends_with(b"0\r\nX-Trailer: yes\r\n\r\n") {
            let n = s.read(&mut chunk).await.expect("read");
            assert!(n > 0, "closed early");
            got.extend_from_slice(&chunk[..n]);
        }
        assert!(got.starts_with(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"));
        let body = &got[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".len()..];
        assert_eq!(body.iter().filter(|b| **b == b'c').count(), 2500);
        let req = format!(
            "HEAD {} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: {auth}\r\n\r\n",
            origin.url("/bytes/50")
        );
        s.write_all(req.as_bytes()).await.expect("write");
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let n = s.read(&mut chunk).await.expect("read");
            assert!(n > 0);
            head.extend_from_slice(&chunk[..n]);
        }
        assert!(
            String::from_utf8_lossy(&head).contains("Content-Length: 50"),
            "HEAD has no body"
        );
        assert_eq!(
            origin.connections.load(std::sync::atomic::Ordering::SeqCst),
            1
        );

        // HTTP/1.0 without keep-alive: the answer says close and the connection closes
        let r = raw_request(
            gw.http,
            &format!(
                "GET {} HTTP/1.0\r\nProxy-Authorization: {auth}\r\n\r\n",
                origin.url("/bytes/7")
            ),
        )
        .await;
        assert_eq!((r.status, r.body.len()), (200, 7));
        assert_eq!(r.header("connection"), Some("close"));
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn closing_clients_reuse_pooled_origin_connections_per_account() {
    bounded(20, async {
        let origin = Origin::start().await;
        let dir = MemDirectory::new(
            vec![
                account(1, "alice", "s3cret", Some(unlimited())),
                account(2, "bob", "b0b", Some(unlimited())),
            ],
            vec![],
        );
        let gw = TestGateway::start(test_config(), dir).await;
        for _ in 0..4 {
            let r = proxied_get(gw.http, &origin.url("/bytes/10"), Some(("alice", "s3cret"))).await;
            assert_eq!((r.status, r.header("connection")), (200, Some("close")));
        }
        let conns = || origin.connections.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            conns(),
            1,
            "one origin connection served four client connections"
        );
        let r = proxied_get(gw.http, &origin.url("/bytes/10"), Some(("bob", "b0b"))).await;
        assert_eq!(r.status, 200);
        assert_eq!(conns(), 2, "another account gets its own origin connection");
        let r = proxied_get(
            gw.http,
            &origin.url("/bytes/10"),
            Some(("alice-session-s1", "s3cret")),
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(conns(), 3, "other targeting, other connection");
        let sink = gw.stop().await;
        assert_eq!(sink.totals(1).2, 5);
        assert_eq!(sink.totals(2).2, 1);
    })
    .await;
}

#[tokio::test]
async fn origin_never_sees_proxy_credentials_or_hop_by_hop_headers() {
    bounded(20, async {
        let origin = Origin::start().await;
        let gw = gateway().await;
        let auth = basic("alice", "s3cret");
        let req = format!(
            "GET {} HTTP/1.1\r\nHost: wrong.example\r\nProxy-Authorization: {auth}\r\n\
             Proxy-Connection: keep-alive\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\n\
             X-Kept: yes\r\n\r\n",
            origin.url("/headers")
        );
        let r = raw_request(gw.http, &req).await;
        let seen = String::from_utf8_lossy(&r.body).to_lowercase();
        assert!(seen.starts_with("get /headers http/1.1\r\n"), "{seen}");
        assert!(
            seen.contains(&format!("host: {}\r\n", origin.addr)),
            "{seen}"
        );
        assert!(seen.contains("x-kept: yes"), "{seen}");
        for gone in [
            "proxy-authorization",
            "proxy-connection",
            "x-hop",
            "wrong.example",
        ] {
            assert!(!seen.contains(gone), "{gone} leaked: {seen}");
        }
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn idle_tunnels_are_closed_after_the_idle_timeout() {
    bounded(20, async {
        let echo = Echo::start().await;
        let config = GatewayConfig {
            idle_timeout: Duration::from_millis(200),
            ..test_config()
        };
        let gw = gateway_with(config, Some(unlimited())).await;
        let (mut s, r) = connect_tunnel(gw.http, echo.addr, Some(("alice", "s3cret"))).await;
        assert_eq!(r.status, 200);
        let started = Instant::now();
        let mut rest = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut rest))
            .await
            .expect("closed by the gateway")
            .unwrap_or(0);
        assert_eq!(n, 0);
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "{:?}",
            started.elapsed()
        );
        gw.stop().await;
    })
    .await;
}

/// An origin that accepts a WebSocket handshake (checking it got `Upgrade` and `Connection:
/// Upgrade`), then echoes; it answers a request without them with `101` all the same.
async fn upgrading_origin() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let end = head.windows(4).position(|w| w == b"\r\n\r\n").expect("end") + 4;
                let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
                assert!(text.starts_with("get /chat http/1.1\r\n"), "{text}");
                assert!(!text.contains("proxy-authorization"), "{text}");
                let reply = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                    Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
                if s.write_all(reply).await.is_err() {
                    return;
                }
                // frames the client sent along with its handshake, then the rest
                let early = head[end..].to_vec();
                if s.write_all(&early).await.is_err() {
                    return;
                }
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn websocket_upgrade_over_forward_http_becomes_a_tunnel() {
    bounded(20, async {
        let origin = upgrading_origin().await;
        let gw = gateway().await;
        let mut s = TcpStream::connect(gw.http).await.expect("connect");
        let request = format!(
            "GET http://{origin}/chat HTTP/1.1\r\nHost: {origin}\r\nProxy-Authorization: {}\r\n\
             Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\nearly",
            basic("alice", "s3cret")
        );
        s.write_all(request.as_bytes()).await.expect("write");
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed before the 101");
            got.extend_from_slice(&buf[..n]);
        }
        let end = got.windows(4).position(|w| w == b"\r\n\r\n").expect("end") + 4;
        let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
        assert!(
            head.starts_with("http/1.1 101 switching protocols\r\n"),
            "{head}"
        );
        assert!(head.contains("upgrade: websocket\r\n"), "{head}");
        assert!(head.contains("connection: upgrade\r\n"), "{head}");
        assert!(head.contains("sec-websocket-accept:"), "{head}");
        let mut echoed = got[end..].to_vec();
        while echoed.len() < 5 {
            let n = s.read(&mut buf).await.expect("read");
            assert!(n > 0);
            echoed.extend_from_slice(&buf[..n]);
        }
        assert_eq!(echoed, b"early");
        s.write_all(b"\x81\x05hello").await.expect("write frame");
        let mut frame = [0u8; 7];
        s.read_exact(&mut frame).await.expect("echo");
        assert_eq!(&frame, b"\x81\x05hello");
        drop(s);
        let sink = gw.stop().await;
        let (up, down, requests, errors) = sink.totals(1);
        assert_eq!((requests, errors), (1, 0));
        // the head as sent to the origin, then the two frames; the 101 as relayed, then both
        assert!(up > 50 + 5 + 7, "up {up}");
        assert_eq!(down, end as u64 + 5 + 7);
    })
    .await;
}

#[tokio::test]
async fn unrequested_switching_protocols_is_still_refused() {
    bounded(20, async {
        let origin = upgrading_origin().await;
        let gw = gateway().await;
        let r = proxied_get(
            gw.http,
            &format!("http://{origin}/chat"),
            Some(("alice", "s3cret")),
        )
        .await;
        assert_eq!(r.status, 502);
        assert_eq!(r.error_code(), Some("upstream_failed"));
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_kept_alive_connection_idle_past_the_keepalive_timeout_is_closed() {
    bounded(20, async {
        let origin = Origin::start().await;
        let config = GatewayConfig {
            keepalive_timeout: Duration::from_millis(300),
            ..test_config()
        };
        let gw = gateway_with(config, Some(unlimited())).await;
        let mut s = TcpStream::connect(gw.http).await.expect("connect");
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nProxy-Authorization: {}\r\n\r\n",
            origin.url("/bytes/10"),
            origin.addr,
            basic("alice", "s3cret")
        );
        s.write_all(request.as_bytes())
            .await
            .expect("first request");
        let r = read_response(&mut s).await;
        assert_eq!((r.status, r.body.len()), (200, 10));
        let idle = Instant::now();
        let mut rest = [0u8; 1];
        let n = s.read(&mut rest).await.unwrap_or(0);
        assert_eq!(n, 0, "closed, without an answer");
        let waited = idle.elapsed();
        assert!(
            waited >= Duration::from_millis(250) && waited < Duration::from_secs(2),
            "closed after the keep-alive wait, not the 3 s head timeout: {waited:?}"
        );
        gw.stop().await;
    })
    .await;
}
