//! Usage reconciliation through the whole service on both engines: while the store refuses
//! usage writes the gateway's drift (`atlantic_usage_drift_bytes`) holds every byte it metered;
//! once writes come back a retried flush brings it to exactly 0, and the stored totals equal
//! the bytes the tunnels carried, none counted twice. Meanwhile the admin view lists the
//! account with its drift; afterwards it lists none, and the customer's Usage page says up to
//! when the totals are reconciled.
//!
//! The `metrics` recorder is one per process and both engines' stories run in this binary, so
//! they take turns ([`ONE_AT_A_TIME`]); the drift is a gauge each service sets anew, and the
//! bytes expected come from the test's own tunnels, not from the shared counters.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use common::{Engine, Service, TestDb};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What each tunnel sends up (after the CONNECT) and what the origin answers down.
const UP: &[u8] = b"ping through the tunnel";
const DOWN: &[u8] = b"pong from the origin, a little longer";
const TUNNELS: usize = 5;

/// An origin that reads `UP`, answers `DOWN` and closes.
async fn origin() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut got = vec![0u8; UP.len()];
                if socket.read_exact(&mut got).await.is_ok() {
                    let _ = socket.write_all(DOWN).await;
                }
            });
        }
    });
    addr
}

/// One CONNECT tunnel through the gateway to `origin`: sends `UP`, reads `DOWN` to the end.
async fn tunnel(proxy: SocketAddr, origin: SocketAddr, user: &str, pass: &str) {
    let mut s = TcpStream::connect(proxy).await.expect("connect");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    let head = format!(
        "CONNECT {origin} HTTP/1.1\r\nHost: {origin}\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.expect("write");
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).await.expect("reply");
        reply.push(byte[0]);
    }
    assert!(reply.starts_with(b"HTTP/1.1 200"), "{reply:?}");
    s.write_all(UP).await.expect("up");
    let mut down = Vec::new();
    s.read_to_end(&mut down).await.expect("down");
    assert_eq!(down, DOWN);
}

/// The value of the unlabelled series `name` in the service's `/metrics`.
async fn metric(service: &Service, name: &str) -> f64 {
    let text = service.get("/metrics").await.text().await.expect("text");
    text.lines()
        .find(|l| l.split(' ').next() == Some(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"))
}

/// Polls `name` until `ok` holds for its value, for at most 30 s (flushes run every 5 s).
async fn until_metric(service: &Service, name: &str, ok: impl Fn(f64) -> bool) -> f64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let value = metric(service, name).await;
        if ok(value) {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} stayed at {value}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A server function's answer as JSON (a form post from our own pages).
async fn view(browser: &common::Browser, path: &str, form: &[(&str, &str)]) -> serde_json::Value {
    let response = browser.post(path, form).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.expect("json")
}

/// A server function's answer once `ok` holds (the dashboard reads the gateway's statistics,
/// taken each second).
async fn until_view(
    browser: &common::Browser,
    path: &str,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    for _ in 0..50 {
        last = view(browser, path, &[]).await;
        if ok(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{path} never as expected: {last}");
}

async fn stored(db: &TestDb, account: store::AccountId) -> i64 {
    let t = store::usage::totals(db.db(), account, 0, i64::MAX)
        .await
        .expect("totals");
    t.bytes_up + t.bytes_down
}

async fn refused_writes_drift_and_are_reconciled_exactly(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let origin = origin().await;
    let (user, pass) = common::customer(db.db(), "drift@example.com", "Starter").await;
    let account = store::accounts::by_email(db.db(), "drift@example.com")
        .await
        .expect("q")
        .expect("account")
        .id;
    let hash = store::accounts::hash_password(common::CUSTOMER_PASSWORD).expect("hash");
    store::accounts::create(
        db.db(),
        "ops@example.com",
        &hash,
        store::accounts::Role::Admin,
        store::now_ms(),
    )
    .await
    .expect("admin");
    let service = Service::start(db.url()).await;
    let admin = common::Browser::new(&service);
    admin.sign_in_customer("ops@example.com").await;
    let customer = common::Browser::new(&service);
    customer.sign_in_customer("drift@example.com").await;
    assert_eq!(metric(&service, "atlantic_usage_drift_bytes").await, 0.0);
    assert_eq!(metric(&service, "atlantic_usage_drift_accounts").await, 0.0);
    let failures = metric(&service, "atlantic_proxy_usage_flush_failures_total").await;

    // The store refuses usage writes: the table the flush writes first is gone for a while.
    sqlx::query("ALTER TABLE usage_hourly RENAME TO usage_hourly_away")
        .execute(db.db().pool())
        .await
        .expect("rename away");

    for _ in 0..TUNNELS {
        tunnel(service.http_proxy, origin, &user, &pass).await;
    }
    // Tunnels meter their payload only: exactly this many bytes, all drift while flushes fail.
    let sent = (TUNNELS * (UP.len() + DOWN.len())) as f64;
    until_metric(&service, "atlantic_usage_drift_bytes", |d| d == sent).await;
    assert_eq!(metric(&service, "atlantic_usage_drift_accounts").await, 1.0);
    assert!(metric(&service, "atlantic_proxy_usage_flush_failures_total").await > failures);

    // Let another flush fail (each retry carries the same records), then restore writes.
    let failures = metric(&service, "atlantic_proxy_usage_flush_failures_total").await;
    until_metric(&service, "atlantic_proxy_usage_flush_failures_total", |n| {
        n > failures
    })
    .await;
    assert_eq!(metric(&service, "atlantic_usage_drift_bytes").await, sent);
    // The admin view lists the account and its drift (the customer's Usage page cannot load
    // while its table is away).
    let drift = until_view(&admin, "/api/admin/overview", |v| {
        v["drift"].as_array().is_some_and(|d| !d.is_empty())
    })
    .await;
    assert_eq!(drift["drift"][0]["email"], "drift@example.com", "{drift}");
    assert_eq!(drift["drift"][0]["bytes"].as_f64(), Some(sent), "{drift}");
    sqlx::query("ALTER TABLE usage_hourly_away RENAME TO usage_hourly")
        .execute(db.db().pool())
        .await
        .expect("rename back");

    until_metric(&service, "atlantic_usage_drift_bytes", |d| d == 0.0).await;
    assert_eq!(metric(&service, "atlantic_usage_drift_accounts").await, 0.0);
    let clear = until_view(&admin, "/api/admin/overview", |v| {
        v["drift"].as_array().is_some_and(Vec::is_empty)
    })
    .await;
    assert!(clear["drained_at"].is_string(), "{clear}");
    let usage = view(
        &customer,
        "/api/usage",
        &[("range", "24h"), ("by_day", "false")],
    )
    .await;
    let reconciled = usage["reconciled_until"].as_str().unwrap_or_default();
    // `HH:MM` today (with the date when the drain was yesterday, just past midnight)
    assert!(
        [5, 16].contains(&reconciled.len()) && reconciled.ends_with(|c: char| c.is_ascii_digit()),
        "reconciled up to the last drain: {usage}"
    );
    assert_eq!(
        stored(&db, account).await as f64,
        sent,
        "stored once, exactly"
    );

    // The final flush on shutdown has nothing left to add.
    service.stop().await.expect("clean stop");
    assert_eq!(stored(&db, account).await as f64, sent);
    db.close().await;
}
on_both_engines!(refused_writes_drift_and_are_reconciled_exactly);
