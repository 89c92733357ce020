//! `GET /api/v1/sessions`, `DELETE /api/v1/sessions/{session}`: an account's live sticky
//! sessions as the gateway reports them, ending one closes its tunnels, and another account's
//! session of the same id is neither listed nor ended.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use store::api_tokens::Scope;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{self, Engine};
use crate::support::{Api, problem};

/// A CONNECT tunnel through the gateway, established and left open (once the gateway's
/// directory, reloaded every 2 s, has the customer).
async fn tunnel(gateway: SocketAddr, target: SocketAddr, user: &str, pass: &str) -> TcpStream {
    for _ in 0..50 {
        if let Some(s) = try_tunnel(gateway, target, user, pass).await {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{user} never got through");
}

async fn try_tunnel(
    gateway: SocketAddr,
    target: SocketAddr,
    user: &str,
    pass: &str,
) -> Option<TcpStream> {
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    let mut s = TcpStream::connect(gateway).await.unwrap();
    s.write_all(
        format!(
            "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert!(
            s.read(&mut byte).await.unwrap() > 0,
            "closed before its answer"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    if head.starts_with("HTTP/1.1 407 ") {
        return None;
    }
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(
        head.contains("\r\nX-Atlantic-Exit: 0\r\n"),
        "direct egress: {head}"
    );
    Some(s)
}

/// Whether the tunnel is closed by the gateway within `limit`.
async fn closes_within(s: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(limit, s.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// The account's sessions once one named `session` is listed (the statistics tick each second).
async fn listed(api: &Api, token: &str, session: &str) -> Value {
    for _ in 0..50 {
        let list = api.get_json("/api/v1/sessions", token).await;
        if list["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["session"] == session)
        {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{session} never listed");
}

async fn sessions_are_listed_and_ended_per_account(engine: Engine) {
    let Some(api) = Api::start(engine).await else {
        return;
    };
    let (ada_user, ada_pass) = common::customer(api.store(), "ada@example.com", "Starter").await;
    let (bob_user, bob_pass) = common::customer(api.store(), "bob@example.com", "Starter").await;
    let ada = api.account("ada@example.com").await;
    let bob = api.account("bob@example.com").await;
    let ada_token = api.token(ada, Scope::ReadWrite).await;
    let ada_read = api.token(ada, Scope::Read).await;
    let bob_token = api.token(bob, Scope::ReadWrite).await;
    let origin = common::origin("ok").await;
    let gateway = api.service.http_proxy;
    let mut ada_tunnel = tunnel(
        gateway,
        origin,
        &format!("{ada_user}-session-s1"),
        &ada_pass,
    )
    .await;
    let mut bob_tunnel = tunnel(
        gateway,
        origin,
        &format!("{bob_user}-session-s1"),
        &bob_pass,
    )
    .await;

    let list = listed(&api, &ada_token, "s1").await;
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "only ada's: {list}");
    let s1 = &sessions[0];
    assert_eq!(s1["exit_id"], 0);
    assert_eq!(s1["exit"], "Direct egress");
    assert_eq!(s1["open_connections"], 1);
    assert!(s1["expires_at_ms"].as_i64().unwrap() > s1["started_at_ms"].as_i64().unwrap());
    assert!(list["taken_at_ms"].as_i64().unwrap() > 0);
    assert_eq!(
        listed(&api, &bob_token, "s1").await["sessions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let path = "/api/v1/sessions/s1";
    let read_only = api.call(Method::DELETE, path, Some(&ada_read), None).await;
    problem(read_only, StatusCode::FORBIDDEN, "insufficient_scope").await;
    assert!(!closes_within(&mut ada_tunnel, Duration::from_millis(300)).await);

    let ended = api.call(Method::DELETE, path, Some(&ada_token), None).await;
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    assert!(
        closes_within(&mut ada_tunnel, Duration::from_secs(3)).await,
        "ada's tunnel closed"
    );
    assert!(
        !closes_within(&mut bob_tunnel, Duration::from_millis(500)).await,
        "bob's session of the same id is untouched"
    );
    let again = api.call(Method::DELETE, path, Some(&ada_token), None).await;
    problem(again, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(
        common::activity_kinds(api.store(), "ada@example.com").await[0],
        "session.ended"
    );
    assert!(
        !common::activity_kinds(api.store(), "bob@example.com")
            .await
            .iter()
            .any(|k| k == "session.ended")
    );
    drop(bob_tunnel);
    api.stop().await;
}
on_both_engines!(sessions_are_listed_and_ended_per_account);
