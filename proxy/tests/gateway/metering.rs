//! Metering and limits over time: exact byte counts for forward HTTP, CONNECT and SOCKS5;
//! flush retries; the final flush on shutdown; quota cut-off of running tunnels; statistics.

use std::sync::atomic::Ordering;
use std::time::Duration;

use proxy::{ErrorCode, GatewayConfig, PlanLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

async fn gateway_with(config: GatewayConfig, plan: PlanLimits) -> TestGateway {
    let dir = MemDirectory::new(vec![account(1, "alice", "s3cret", Some(plan))], vec![]);
    TestGateway::start(config, dir).await
}

#[tokio::test]
async fn forward_http_bytes_are_metered_exactly_and_flushed_on_shutdown() {
    bounded(20, async {
        let origin = Origin::start().await;
        let gw = gateway_with(test_config(), unlimited()).await;
        let auth = basic("alice", "s3cret");
        let mut s = TcpStream::connect(gw.http).await.expect("connect");
        let mut received = 0;
        for path in ["/bytes/1000", "/bytes/5"] {
            let req = format!("GET {} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: {auth}\r\nAccept: */*\r\n\r\n", origin.url(path));
            s.write_all(req.as_bytes()).await.expect("write");
            received += read_response(&mut s).await.received;
        }
        let post = format!("POST {} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: {auth}\r\nContent-Length: 7\r\n\r\npayload", origin.url("/echo"));
        s.write_all(post.as_bytes()).await.expect("write");
        received += read_response(&mut s).await.received;
        drop(s);
        let sink = gw.stop().await;
        assert_eq!(sink.calls.load(Ordering::SeqCst), 1, "only the final flush ran");
        let (up, down, requests, errors) = sink.totals(1);
        assert_eq!(up, origin.bytes_in.load(Ordering::SeqCst), "up = what the origin received");
        assert_eq!(down as usize, received, "down = what the client received");
        assert_eq!(down, origin.bytes_out.load(Ordering::SeqCst), "responses relayed verbatim");
        assert_eq!((requests, errors), (3, 0));
        let r = &sink.records()[0];
        assert_eq!((r.exit_id, r.country.as_str()), (0, ""));
        assert_eq!(r.hour_start_ms % 3_600_000, 0);
    })
    .await;
}

#[tokio::test]
async fn connect_and_socks_tunnel_payload_is_metered_exactly() {
    bounded(20, async {
        let echo = Echo::start().await;
        let gw = gateway_with(test_config(), unlimited()).await;
        let payload = vec![7u8; 300_000];
        let (mut s, r) = connect_tunnel(gw.http, echo.addr, Some(("alice", "s3cret"))).await;
        assert_eq!(r.status, 200);
        let (mut rd, mut wr) = s.split();
        let mut back = vec![0u8; payload.len()];
        let (w, r) = tokio::join!(wr.write_all(&payload), rd.read_exact(&mut back));
        w.expect("write");
        r.expect("read");
        drop(s);
        let (mut s, status, reply) =
            socks_connect(gw.socks, "127.0.0.1", echo.addr.port(), "alice", "s3cret").await;
        assert_eq!((status, reply), (0, Some(0)));
        s.write_all(b"0123456789").await.expect("write");
        let mut ten = [0u8; 10];
        s.read_exact(&mut ten).await.expect("read");
        drop(s);
        eventually(5, || {
            gw.handle.stats().snapshot().global.active_connections == 0
        })
        .await;
        let sink = gw.stop().await;
        let (up, down, requests, errors) = sink.totals(1);
        assert_eq!(up, 300_010);
        assert_eq!(down, 300_010);
        assert_eq!((requests, errors), (2, 0));
        assert_eq!(echo.bytes.load(Ordering::SeqCst), 300_010);
    })
    .await;
}

#[tokio::test]
async fn failed_flushes_are_retried_without_losing_counts() {
    bounded(20, async {
        let origin = Origin::start().await;
        let config = GatewayConfig {
            flush_interval: Duration::from_millis(100),
            ..test_config()
        };
        let gw = gateway_with(config, unlimited()).await;
        gw.sink.failures_left.store(3, Ordering::SeqCst);
        let first = proxied_get(
            gw.http,
            &origin.url("/bytes/100"),
            Some(("alice", "s3cret")),
        )
        .await;
        assert_eq!(first.status, 200);
        for _ in 0..4 {
            pass(Duration::from_millis(100)).await;
        }
        eventually(5, || gw.sink.calls.load(Ordering::SeqCst) >= 4).await;
        assert_eq!(
            gw.sink.records().len(),
            1,
            "the fourth attempt stored the first request"
        );
        let second = proxied_get(
            gw.http,
            &origin.url("/bytes/100"),
            Some(("alice", "s3cret")),
        )
        .await;
        assert_eq!(second.status, 200);
        let sink = gw.stop().await;
        let (up, down, requests, _) = sink.totals(1);
        assert_eq!(requests, 2);
        assert_eq!(up, origin.bytes_in.load(Ordering::SeqCst));
        assert_eq!(down as usize, first.received + second.received);
    })
    .await;
}

#[tokio::test]
async fn errors_are_recorded_by_code() {
    bounded(20, async {
        let origin = Origin::start().await;
        let gw = gateway_with(test_config(), unlimited()).await;
        proxied_get(gw.http, "http://127.0.0.1:25/", Some(("alice", "s3cret"))).await;
        proxied_get(
            gw.http,
            &origin.url("/bytes/1"),
            Some(("alice-country-zz", "s3cret")),
        )
        .await;
        proxied_get(gw.http, &origin.url("/bytes/1"), Some(("alice", "wrong"))).await;
        let snap = gw.handle.stats().snapshot();
        assert_eq!(snap.global.errors_total, 3);
        let sink = gw.stop().await;
        let rec = sink.records();
        assert_eq!(rec.len(), 1);
        let mut codes = rec[0].errors_by_code.clone();
        codes.sort();
        assert_eq!(
            codes,
            vec![
                (ErrorCode::BadParameters, 1),
                (ErrorCode::DestinationBlocked, 1)
            ]
        );
        assert_eq!((rec[0].requests, rec[0].errors), (2, 2));
    })
    .await;
}

#[tokio::test]
async fn quota_cuts_running_tunnels_and_refuses_new_requests() {
    bounded(30, async {
        let echo = Echo::start().await;
        let plan = PlanLimits {
            bandwidth_bytes: Some(200_000),
            bytes_used: 50_000,
            ..unlimited()
        };
        let gw = gateway_with(test_config(), plan).await;
        let (mut s, r) = connect_tunnel(gw.http, echo.addr, Some(("alice", "s3cret"))).await;
        assert_eq!(r.status, 200);
        let chunk = vec![1u8; 100_000];
        let mut back = vec![0u8; chunk.len()];
        s.write_all(&chunk).await.expect("write");
        s.read_exact(&mut back).await.expect("echoed");
        // 50 000 + 200 000 metered > 200 000: the enforcer, once a second, closes the tunnel
        pass(Duration::from_secs(1)).await;
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(4), s.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "tunnel closed by the quota enforcer");
        let (_, r) = connect_tunnel(gw.http, echo.addr, Some(("alice", "s3cret"))).await;
        assert_eq!(r.error_code(), Some("quota_exceeded"));
        assert_eq!(r.status, 402);
        // a new period (the server resets bytes_used) lets the account in again
        gw.dir.update(|d| {
            let p = d.accounts[0].plan.as_mut().expect("plan");
            p.bytes_used = 0;
            p.bandwidth_bytes = Some(10_000_000);
            p.period_start_ms = 1;
        });
        gw.handle.refresh_now();
        eventually(5, || {
            let gw_http = gw.http;
            let _ = gw_http;
            gw.dir.loads.load(Ordering::SeqCst) >= 2
        })
        .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, r) = connect_tunnel(gw.http, echo.addr, Some(("alice", "s3cret"))).await;
        assert_eq!(r.status, 200);
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn stats_show_accounts_and_rates() {
    bounded(20, async {
        let origin = Origin::start().await;
        let gw = gateway_with(test_config(), unlimited()).await;
        for _ in 0..5 {
            proxied_get(
                gw.http,
                &origin.url("/bytes/2000"),
                Some(("alice", "s3cret")),
            )
            .await;
        }
        let stats = gw.handle.stats();
        // the next once-a-second sample computes the rates
        pass(Duration::from_secs(1)).await;
        eventually(5, || stats.snapshot().global.requests_per_sec > 0.0).await;
        let snap = stats.snapshot();
        assert!(snap.ready);
        assert_eq!(snap.accounts.len(), 1);
        let a = &snap.accounts[0];
        assert_eq!(a.account_id, 1);
        assert_eq!(a.traffic.requests_total, 5);
        assert!(a.traffic.bytes_down_total >= 10_000);
        let json = serde_json::to_value(&snap).expect("serialize");
        assert!(json["accounts"][0]["bytes_down_per_sec"].is_number());
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn shutdown_drains_then_cuts_long_tunnels() {
    bounded(20, async {
        let echo = Echo::start().await;
        let config = GatewayConfig {
            drain_timeout: Duration::from_millis(300),
            ..test_config()
        };
        let gw = gateway_with(config, unlimited()).await;
        let (mut s, r) = connect_tunnel(gw.http, echo.addr, Some(("alice", "s3cret"))).await;
        assert_eq!(r.status, 200);
        s.write_all(b"abc").await.expect("write");
        let mut b = [0u8; 3];
        s.read_exact(&mut b).await.expect("read");
        let started = std::time::Instant::now();
        let sink = gw.stop().await;
        assert!(started.elapsed() < Duration::from_secs(4));
        let mut rest = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut rest))
            .await
            .expect("closed")
            .unwrap_or(0);
        assert_eq!(n, 0);
        assert_eq!(sink.totals(1).0, 3);
    })
    .await;
}
