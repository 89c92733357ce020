//! Secrets sealed at rest, end to end: the running gateway authenticates customers against
//! sealed proxy passwords and logs in to upstreams with sealed credentials, under a secret
//! being rotated (`ATLANTIC_SECRET_PREVIOUS`), and `atlantic secrets rotate` re-seals, on
//! SQLite and PostgreSQL.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::time::Duration;

use common::{Engine, Service, TestDb};
use store::exits::{self, Health};
use store::{Keyring, credentials};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const OLD: &str = "old-secret-old-secret-old-secret-old-secret";
const NEW: &str = "new-secret-new-secret-new-secret-new-secret";

/// An upstream HTTP proxy that answers `CONNECT` with 200 only for `up:sealed-pw`.
async fn upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                // base64("up:sealed-pw")
                let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let ok = head.contains("proxy-authorization: basic dxa6c2vhbgvklxb3");
                let reply: &[u8] = if ok {
                    b"HTTP/1.1 200 Connection established\r\n\r\n"
                } else {
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"
                };
                let _ = socket.write_all(reply).await;
            });
        }
    });
    addr
}

fn rotate(database_url: &str, previous: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_atlantic"));
    command
        .args(["secrets", "rotate"])
        .env("DATABASE_URL", database_url)
        .env("ATLANTIC_SECRET", NEW)
        .env_remove("ATLANTIC_ENV")
        .env_remove("ATLANTIC_SECRET_PREVIOUS");
    if let Some(previous) = previous {
        command.env("ATLANTIC_SECRET_PREVIOUS", previous);
    }
    command.output().expect("run atlantic")
}

async fn the_gateway_uses_sealed_secrets_across_a_rotation(engine: Engine) {
    let Some(t) = TestDb::new(engine).await else {
        return;
    };
    // Sealed under the old secret, as before the operator rotated it.
    let old = t.db().clone().with_keyring(Keyring::new(OLD, &[]));
    let (user, password) = common::customer(&old, "sealed@example.com", "Starter").await;
    let stored: String = sqlx::query_scalar("SELECT secret FROM proxy_credentials")
        .fetch_one(old.pool())
        .await
        .expect("stored secret");
    assert!(
        stored.starts_with("v1:") && !stored.contains(&password),
        "{stored}"
    );

    let origin = common::origin("sealed and delivered").await;
    let service = Service::start_with(
        t.url(),
        &[("ATLANTIC_SECRET", NEW), ("ATLANTIC_SECRET_PREVIOUS", OLD)],
    )
    .await;
    let fetch = |password: String| {
        let proxy = format!("http://{user}:{password}@{}", service.http_proxy);
        async move {
            reqwest::Client::builder()
                .proxy(reqwest::Proxy::http(proxy).expect("proxy"))
                .timeout(Duration::from_secs(5))
                .build()
                .expect("client")
                .get(format!("http://{origin}/"))
                .send()
                .await
                .expect("request")
                .status()
        }
    };
    assert_eq!(
        fetch(password.clone()).await,
        200,
        "the sealed password opens"
    );
    assert_eq!(fetch("not-the-password".into()).await, 407);

    // An upstream whose credentials are sealed: the gateway's probe logs in with them.
    let up = upstream().await;
    let exit = exits::add(
        &old,
        &exits::NewExit::new(&format!("http://up:sealed-pw@{up}"), "de"),
        store::now_ms(),
    )
    .await
    .expect("add exit");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let checked = loop {
        let found = exits::by_id(&old, exit.id)
            .await
            .expect("read")
            .expect("exit");
        if found.health != Health::Unknown {
            break found;
        }
        assert!(tokio::time::Instant::now() < deadline, "exit never probed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(checked.health, Health::Healthy, "{checked:?}");
    service.stop().await.expect("clean stop");

    // Without the previous secret nothing old opens, so rotation refuses and changes nothing.
    let refused = rotate(t.url(), None);
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("ATLANTIC_SECRET_PREVIOUS"), "{why}");
    assert!(!why.contains(OLD) && !why.contains(NEW), "{why}");

    let rotated = rotate(t.url(), Some(OLD));
    assert!(rotated.status.success(), "{rotated:?}");
    let out = String::from_utf8_lossy(&rotated.stdout);
    let version = Keyring::new(NEW, &[]).version().to_owned();
    assert_eq!(out, format!("resealed=2\nkey_version={version}\n"));
    let again = rotate(t.url(), None);
    assert!(again.status.success(), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("resealed=0\n"));

    // The new secret alone now opens everything, in the store and in the gateway.
    let new = t.db().clone().with_keyring(Keyring::new(NEW, &[]));
    let creds = credentials::by_username(&new, &user)
        .await
        .expect("opens")
        .expect("found");
    assert_eq!(creds.secret, password);
    // The fake upstream relays nothing, so traffic goes direct for this last check.
    exits::set_enabled(&new, exit.id, false, store::now_ms())
        .await
        .expect("disable exit");
    let service = Service::start_with(t.url(), &[("ATLANTIC_SECRET", NEW)]).await;
    let proxy = format!("http://{user}:{password}@{}", service.http_proxy);
    let status = reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(proxy).expect("proxy"))
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
        .get(format!("http://{origin}/"))
        .send()
        .await
        .expect("request")
        .status();
    assert_eq!(status, 200);
    service.stop().await.expect("clean stop");
    t.close().await;
}
on_both_engines!(the_gateway_uses_sealed_secrets_across_a_rotation);
