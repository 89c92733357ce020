//! The dashboard's data through the real service on SQLite and PostgreSQL: `/ws/live` (same
//! origin, signed in, scoped to the account), the pages' numbers, the CSV export and the
//! preferences form.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Browser, Engine, Service, TestDb, customer, location, session_cookie};
use futures::StreamExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Signs `email` in and returns its `name=value` session cookie.
async fn session_of(service: &Service, email: &str) -> String {
    let browser = Browser::new(service);
    let response = browser
        .post(
            "/login",
            &[("email", email), ("password", common::CUSTOMER_PASSWORD)],
        )
        .await;
    assert_eq!(location(&response), "/", "signed in");
    let cookie = session_cookie(&response).expect("session cookie");
    cookie.split(';').next().unwrap().to_owned()
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/ws/live` with these headers; the HTTP status when the handshake is refused.
async fn open(
    service: &Service,
    origin: Option<&str>,
    cookie: Option<&str>,
) -> Result<Socket, u16> {
    let mut request = format!("ws://{}/ws/live", service.web)
        .into_client_request()
        .unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", cookie.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(WsError::Http(response)) => Err(response.status().as_u16()),
        Err(other) => panic!("handshake failed: {other}"),
    }
}

/// Reads frames until one satisfies `done` (within 10 s).
async fn frame_where(
    socket: &mut Socket,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = tokio::time::timeout(left, socket.next())
            .await
            .expect("a matching frame within 10 s")
            .expect("stream open")
            .unwrap();
        if let Message::Text(text) = message {
            let frame: serde_json::Value = serde_json::from_str(&text).unwrap();
            if done(&frame) {
                return frame;
            }
        }
    }
}

async fn live_statistics_are_same_origin_signed_in_and_scoped(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let (user, pass) = customer(db.db(), "ada@example.com", "Starter").await;
    customer(db.db(), "bob@example.com", "Starter").await;
    let ada = session_of(&service, "ada@example.com").await;
    let bob = session_of(&service, "bob@example.com").await;

    // A cross-site page, or no Origin at all, gets nothing, even with the cookie.
    assert_eq!(
        open(&service, Some("https://evil.example"), Some(&ada))
            .await
            .err(),
        Some(403)
    );
    assert_eq!(open(&service, None, Some(&ada)).await.err(), Some(403));
    // Same origin, signed out: 401.
    assert_eq!(
        open(&service, Some(&service.base), None).await.err(),
        Some(401)
    );

    let mut ada_live = open(&service, Some(&service.base), Some(&ada))
        .await
        .unwrap();
    let mut bob_live = open(&service, Some(&service.base), Some(&bob))
        .await
        .unwrap();
    let first = frame_where(&mut ada_live, |_| true).await;
    assert_eq!(first["account"]["requests_total"], 0);
    assert!(
        first["global"].is_null(),
        "customers do not see the gateway's totals"
    );

    let origin = common::origin("hello").await;
    let client = reqwest::Client::builder()
        .proxy(
            reqwest::Proxy::http(format!("http://{user}:{pass}@{}", service.http_proxy)).unwrap(),
        )
        .build()
        .unwrap();
    // The gateway picks up new customers within seconds: wait for the first 200.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = client
            .get(format!("http://{origin}/"))
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {} after 10 s",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for _ in 0..3 {
        let response = client
            .get(format!("http://{origin}/"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    // Refusals before the directory knew Ada are not booked on her; the first 200 and 3 more are.
    let moved = frame_where(&mut ada_live, |f| f["account"]["requests_total"] == 4).await;
    assert!(moved["account"]["bytes_total"].as_u64().unwrap() > 0);
    // Bob's stream never shows Ada's traffic.
    let bobs = frame_where(&mut bob_live, |f| {
        f["taken_at_ms"].as_i64() > moved["taken_at_ms"].as_i64()
    })
    .await;
    assert_eq!(bobs["account"]["requests_total"], 0);

    // Signing out everywhere closes the stream within a few seconds.
    let browser = Browser::new(&service);
    browser.sign_in_customer("ada@example.com").await;
    let revoked = browser.post("/settings/sessions/revoke", &[]).await;
    assert_eq!(revoked.status(), 303);
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(message)) = ada_live.next().await {
            if let Message::Close(frame) = message {
                return frame.map(|f| u16::from(f.code));
            }
        }
        None
    })
    .await
    .expect("closed within 10 s");
    assert_eq!(closed, Some(1008));
    service.stop().await.unwrap();
}

on_both_engines!(live_statistics_are_same_origin_signed_in_and_scoped);

async fn pages_and_export_show_the_accounts_own_usage(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    customer(db.db(), "ada@example.com", "Starter").await;
    customer(db.db(), "bob@example.com", "Starter").await;
    let ada = store::accounts::by_email(db.db(), "ada@example.com")
        .await
        .unwrap()
        .unwrap();
    let bob = store::accounts::by_email(db.db(), "bob@example.com")
        .await
        .unwrap()
        .unwrap();
    let now = store::now_ms();
    let usage = |account, requests, session: &str| store::usage::UsageDelta {
        bytes_down: requests * 1_000,
        requests,
        country: "ng".to_owned(),
        session: session.to_owned(),
        ..store::usage::UsageDelta::new(account, now)
    };
    store::usage::record(
        db.db(),
        &[
            usage(ada.id, 7, "alpha"),
            usage(bob.id, 1_000, "bobsession"),
        ],
    )
    .await
    .unwrap();

    let browser = Browser::new(&service);
    browser.sign_in_customer("ada@example.com").await;
    let statistics = browser.get("/?range=24h").await.text().await.unwrap();
    assert!(
        statistics.contains("id=\"total-requests\">7<"),
        "Ada's 7 requests on the page"
    );
    let usage_page = browser.get("/usage").await.text().await.unwrap();
    assert!(
        usage_page.contains("alpha"),
        "Ada's session in the breakdown"
    );
    assert!(!usage_page.contains("bobsession"), "never Bob's");

    let csv = browser.get("/usage.csv?range=24h&by=hour").await;
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "start_utc,local,time_zone,bytes_up,bytes_down,requests,errors"
    );
    assert_eq!(rows.len(), 25, "24 hours and the header");
    let requests: i64 = rows[1..]
        .iter()
        .map(|r| r.split(',').nth(5).unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(requests, 7);
    assert_eq!(browser.get("/usage.csv?by=week").await.status(), 400);

    // Preferences: a known zone is saved and used; anything else is refused with a reason.
    let saved = browser
        .post(
            "/settings/preferences",
            &[
                ("time_zone", "Asia/Kolkata"),
                ("quota_warning_percent", "90"),
            ],
        )
        .await;
    assert_eq!(
        location(&saved),
        "/settings?notice=preferences_saved#preferences"
    );
    let csv = browser
        .get("/usage.csv?range=24h&by=hour")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.lines().nth(1).unwrap().contains(",Asia/Kolkata,"),
        "{csv}"
    );
    assert!(
        csv.lines().nth(1).unwrap().contains(":30,"),
        "local times are on the half hour in India"
    );
    for (zone, percent, error) in [
        ("Mars/Olympus", "90", "time_zone"),
        ("UTC", "101", "quota_percent"),
        ("UTC", "x", "quota_percent"),
    ] {
        let refused = browser
            .post(
                "/settings/preferences",
                &[("time_zone", zone), ("quota_warning_percent", percent)],
            )
            .await;
        assert_eq!(
            location(&refused),
            format!("/settings?error={error}#preferences")
        );
    }
    let account = store::accounts::by_id(db.db(), ada.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (account.time_zone.as_str(), account.quota_warning_percent),
        ("Asia/Kolkata", 90)
    );

    // Signed out, the export is not there.
    let anonymous = Browser::new(&service);
    assert_eq!(location(&anonymous.get("/usage.csv").await), "/login");
    service.stop().await.unwrap();
}

on_both_engines!(pages_and_export_show_the_accounts_own_usage);
