//! `/ws/live` is bounded: a few sockets per account, small client messages, and frames from
//! one shared snapshot a second.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::common::{self, Browser, Engine, Service, TestDb, customer, location, session_cookie};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

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

/// Opens `/ws/live` from our origin with `cookie`; the HTTP status when refused.
async fn open(service: &Service, cookie: &str) -> Result<Socket, u16> {
    let mut request = format!("ws://{}/ws/live", service.web)
        .into_client_request()
        .unwrap();
    let headers = request.headers_mut();
    headers.insert("origin", service.base.parse().unwrap());
    headers.insert("cookie", cookie.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(WsError::Http(response)) => Err(response.status().as_u16()),
        Err(other) => panic!("handshake failed: {other}"),
    }
}

/// The `taken_at_ms` of the next text frame (within 3 s).
async fn next_frame_time(socket: &mut Socket) -> i64 {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(3), socket.next())
            .await
            .expect("a frame within 3 s")
            .expect("open")
            .unwrap();
        if let Message::Text(text) = message {
            let frame: serde_json::Value = serde_json::from_str(&text).unwrap();
            return frame["taken_at_ms"].as_i64().expect("taken_at_ms");
        }
    }
}

/// Whether the socket ends (close frame, error or end) within 5 s, skipping data frames.
async fn ends(socket: &mut Socket) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, socket.next()).await {
            Err(_) => return false,
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return true,
            Ok(Some(Ok(_))) => {}
        }
    }
}

async fn live_sockets_are_capped_small_and_fed_every_second(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    customer(db.db(), "ada@example.com", "Starter").await;
    customer(db.db(), "bob@example.com", "Starter").await;
    let ada = session_of(&service, "ada@example.com").await;
    let bob = session_of(&service, "bob@example.com").await;

    let mut sockets = Vec::new();
    for n in 0..8 {
        sockets.push(
            open(&service, &ada)
                .await
                .unwrap_or_else(|s| panic!("{n}: {s}")),
        );
    }
    assert_eq!(
        open(&service, &ada).await.err(),
        Some(429),
        "a ninth socket"
    );
    let mut bob_live = open(&service, &bob)
        .await
        .expect("another account connects");

    // Frames keep coming, about one a second, from snapshots taken once a second.
    let mut times = Vec::new();
    for _ in 0..4 {
        times.push(next_frame_time(&mut bob_live).await);
    }
    for pair in times.windows(2).skip(1) {
        let gap = pair[1] - pair[0];
        assert!((500..=1_600).contains(&gap), "frames {times:?}");
    }
    let ada_time = next_frame_time(&mut sockets[0]).await;
    assert!(
        ada_time >= times[0],
        "every socket sees the current snapshot"
    );

    // A client message over the limit ends that socket; its place comes back.
    let mut big = sockets.pop().expect("a socket");
    big.send(Message::Text("x".repeat(10 * 1024).into()))
        .await
        .unwrap();
    assert!(
        ends(&mut big).await,
        "an oversized message did not close the socket"
    );
    let mut reopened = None;
    for _ in 0..20 {
        if let Ok(socket) = open(&service, &ada).await {
            reopened = Some(socket);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut reopened = reopened.expect("the closed socket's place was given back");
    // A small message is fine.
    reopened.send(Message::Text("hello".into())).await.unwrap();
    next_frame_time(&mut reopened).await;
    drop(sockets);
    service.stop().await.expect("clean stop");
}
on_both_engines!(live_sockets_are_capped_small_and_fed_every_second);
