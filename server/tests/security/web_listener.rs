//! The web listener's own limits: a client that never finishes its request head is cut off
//! after the header deadline, one whose request body stops moving after the idle deadline,
//! and past the connection cap further connections are closed while the open ones keep
//! working.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{Engine, Service, TestDb};

/// Sends one keep-alive `GET /health` on `tcp` and returns the status line.
async fn get_health(tcp: &mut TcpStream) -> String {
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    // /health answers a small body; the head and body come within the deadline.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !reply.windows(4).any(|w| w == b"\r\n\r\n") {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(left, tcp.read(&mut buf))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        assert!(n > 0, "closed before answering");
        reply.extend_from_slice(&buf[..n]);
    }
    // Let the (tiny) body arrive too, so the next request starts on a clean connection.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _ = tokio::time::timeout(Duration::from_millis(50), tcp.read(&mut buf)).await;
    String::from_utf8_lossy(&reply)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

/// Whether the server closes `tcp` (EOF or reset) within `within`, reading and discarding
/// whatever it sends first.
async fn closed_within(tcp: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, tcp.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

async fn a_slowloris_head_is_cut_off_while_others_are_served(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start_with(db.url(), &[("ATLANTIC_WEB_HEADER_TIMEOUT_SECS", "1")]).await;
    let mut slow = TcpStream::connect(service.web).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: test\r\nX-Slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    // A normal client meanwhile is served.
    assert_eq!(service.get("/health").await.status(), 200);
    // One more header byte now and then does not reset the deadline.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = slow.write_all(b"a").await;
    }
    assert!(
        closed_within(&mut slow, Duration::from_secs(4)).await,
        "the partial head was not cut off"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    service.stop().await.expect("clean stop");
}
on_both_engines!(a_slowloris_head_is_cut_off_while_others_are_served);

async fn a_stalled_request_body_is_cut_off_after_the_idle_deadline(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start_with(db.url(), &[("ATLANTIC_WEB_IDLE_TIMEOUT_SECS", "1")]).await;
    let mut stalled = TcpStream::connect(service.web).await.unwrap();
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: {}\r\nOrigin: {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail=a",
        service.web, service.base
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    // Same origin, so the request reaches the handler, which waits for the rest of the form.
    // Well before the 30 s request deadline would answer 408.
    assert!(
        closed_within(&mut stalled, Duration::from_secs(4)).await,
        "a request body that stopped moving kept its connection"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(service.get("/health").await.status(), 200);
    service.stop().await.expect("clean stop");
}
on_both_engines!(a_stalled_request_body_is_cut_off_after_the_idle_deadline);

async fn past_the_connection_cap_new_connections_are_closed(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start_with(db.url(), &[("ATLANTIC_WEB_MAX_CONNECTIONS", "2")]).await;
    // The readiness poll's pooled connection goes away with its client; wait until both
    // places are free (a refused connection is closed at once and does not count).
    let mut first = None;
    for _ in 0..50 {
        let mut a = TcpStream::connect(service.web).await.unwrap();
        let mut b = TcpStream::connect(service.web).await.unwrap();
        if get_health_or_closed(&mut a).await && get_health_or_closed(&mut b).await {
            first = Some((a, b));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (mut a, mut b) = first.expect("two connections fit under a cap of two");
    let mut c = TcpStream::connect(service.web).await.unwrap();
    let _ = c
        .write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
        .await;
    assert!(
        closed_within(&mut c, Duration::from_secs(2)).await,
        "a third connection was served"
    );
    assert!(
        get_health(&mut a).await.contains("200"),
        "the open ones work"
    );
    assert!(get_health(&mut b).await.contains("200"));
    drop(a);
    // Its place comes back.
    let mut served = false;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut d = TcpStream::connect(service.web).await.unwrap();
        if get_health_or_closed(&mut d).await {
            served = true;
            break;
        }
    }
    assert!(served, "a closed connection's place was not given back");
    service.stop().await.expect("clean stop");
}
on_both_engines!(past_the_connection_cap_new_connections_are_closed);

/// `true` when a `GET /health` on `tcp` is answered 200; `false` when the server closed it.
async fn get_health_or_closed(tcp: &mut TcpStream) -> bool {
    if tcp
        .write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 4096];
    match tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await {
        Ok(Ok(n)) if n > 0 => {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let _ = tokio::time::timeout(Duration::from_millis(50), tcp.read(&mut buf)).await;
            String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200")
        }
        _ => false,
    }
}
