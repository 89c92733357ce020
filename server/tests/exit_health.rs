//! Exit health written back by the running gateway: upstreams added to the database are probed
//! through their full handshake, and the verdict reaches the `exits` table (what the Servers
//! page and `atlantic upstream list` show), on SQLite and PostgreSQL.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use common::{Engine, Service, TestDb};
use store::exits::{self, Exit, Health};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// `Proxy-Authorization` value for `up:uppw`.
const GOOD_CREDENTIALS: &str = "Basic dXA6dXBwdw==";

/// A minimal upstream HTTP proxy: answers `CONNECT` with 200 when the credentials are `up:uppw`
/// and 407 otherwise, then closes (a probe needs no more).
async fn fake_upstream() -> SocketAddr {
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
                let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let authorized = head.starts_with("connect ")
                    && head.contains(&format!(
                        "proxy-authorization: {}",
                        GOOD_CREDENTIALS.to_ascii_lowercase()
                    ));
                let reply: &[u8] = if authorized {
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

/// A loopback port nothing listens on.
async fn dead_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("bound")
}

/// Polls the `exits` table until `done` holds, failing the test after 30 s.
async fn exits_until(db: &store::Db, done: impl Fn(&[Exit]) -> bool) -> Vec<Exit> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let list = exits::list(db).await.expect("list exits");
        if done(&list) {
            return list;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "exit health not written within 30 s: {list:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn dead_and_live_upstreams_get_their_health_recorded(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let live = fake_upstream().await;
    let dead = dead_port().await;
    let now = store::now_ms();
    let urls = [
        format!("http://up:uppw@{live}"),
        format!("http://up:uppw@{dead}"),
        // Another user: the same user at the same upstream would be the same exit.
        format!("http://other:wrong@{live}"),
    ];
    let mut ids = Vec::new();
    for url in &urls {
        let added = exits::add(db.db(), &exits::NewExit::new(url, "de"), now)
            .await
            .expect("add exit");
        assert_eq!(added.health, Health::Unknown);
        ids.push(added.id);
    }

    let checked = exits_until(db.db(), |list| {
        ids.iter().all(|id| {
            list.iter()
                .any(|e| e.id == *id && e.health != Health::Unknown)
        })
    })
    .await;
    let by_id = |i: usize| {
        checked
            .iter()
            .find(|e| e.id == ids[i])
            .expect("exit listed")
            .clone()
    };
    let (good, down, refused) = (by_id(0), by_id(1), by_id(2));
    assert_eq!(good.health, Health::Healthy, "{good:?}");
    assert!(good.last_check_at.is_some() && good.last_latency_ms.is_some());
    assert!(good.success_count >= 1 && good.last_error.is_none());
    assert_eq!(down.health, Health::Unhealthy, "{down:?}");
    assert!(down.failure_count >= 1 && down.last_error.is_some());
    assert_eq!(
        refused.health,
        Health::Unhealthy,
        "wrong credentials: {refused:?}"
    );
    let why = refused.last_error.unwrap_or_default();
    assert!(why.contains("407"), "{why}");
    assert!(!why.contains("wrong"), "no credentials in the error: {why}");

    // What an operator sees.
    let out = Command::new(env!("CARGO_BIN_EXE_atlantic"))
        .args(["upstream", "list"])
        .env("DATABASE_URL", db.url())
        .env_remove("ATLANTIC_ENV")
        .output()
        .expect("run atlantic");
    let listing = String::from_utf8_lossy(&out.stdout);
    let health_of = |id: store::ExitId| {
        listing
            .lines()
            .find(|l| l.split_whitespace().next() == Some(&id.get().to_string()))
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(health_of(ids[0]), "healthy", "{listing}");
    assert_eq!(health_of(ids[1]), "unhealthy", "{listing}");
    assert_eq!(health_of(ids[2]), "unhealthy", "{listing}");

    service.stop().await.expect("clean stop");
    db.close().await;
}
on_both_engines!(dead_and_live_upstreams_get_their_health_recorded);
