//! Proxy credentials on the web: the settings server functions, and regeneration reaching the
//! running gateway within seconds, on SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::{Browser, Engine, Service, TestDb};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn regenerating_the_password_takes_effect_in_the_gateway(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let (user, old_password) = common::customer(db.db(), "rotate@example.com", "Starter").await;
    let origin = common::origin("through the gateway").await;
    let service = Service::start(db.url()).await;
    let browser = Browser::new(&service);
    browser.sign_in_customer("rotate@example.com").await;

    let shown: serde_json::Value = browser
        .post("/api/credentials", &[])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(shown["username"], user.as_str());
    assert_eq!(shown["password"], old_password.as_str());
    assert_eq!(
        shown["http_proxy"],
        format!("127.0.0.1:{}", service.http_proxy.port())
    );

    let fetch = |password: String| {
        let proxy = format!("http://{user}:{password}@{}", service.http_proxy);
        async move {
            let client = reqwest::Client::builder()
                .proxy(reqwest::Proxy::http(proxy).expect("proxy"))
                .timeout(Duration::from_secs(5))
                .build()
                .expect("client");
            // a request still in flight with the old password when the gateway reloads is
            // cut with its connection (it ran under rights the account no longer has): 0
            client
                .get(format!("http://{origin}/"))
                .send()
                .await
                .map_or(0, |r| r.status().as_u16())
        }
    };
    assert_eq!(fetch(old_password.clone()).await, 200);
    // a tunnel opened under the old password, still running when it is replaced
    let mut tunnel = tokio::net::TcpStream::connect(service.http_proxy)
        .await
        .expect("connect");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{old_password}"));
    let connect = format!("CONNECT {origin} HTTP/1.1\r\nProxy-Authorization: Basic {auth}\r\n\r\n");
    tunnel.write_all(connect.as_bytes()).await.expect("write");
    let mut established = [0u8; 12];
    tunnel.read_exact(&mut established).await.expect("answer");
    assert_eq!(&established, b"HTTP/1.1 200");

    let rotated: serde_json::Value = browser
        .post("/api/credentials/regenerate", &[])
        .await
        .json()
        .await
        .expect("json");
    let new_password = rotated["password"].as_str().expect("password").to_string();
    assert_ne!(new_password, old_password);
    assert_eq!(rotated["username"], user.as_str(), "the username stays");

    // The server asks the gateway to reload at once: sooner than its 2-second refresh cycle.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
    while fetch(old_password.clone()).await != 407 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "old password still accepted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fetch(new_password).await, 200);
    // ...and the tunnel let in under the old password is closed within seconds
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        let mut rest = [0u8; 256];
        loop {
            match tunnel.read(&mut rest).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the old password's tunnel is still open");

    let kinds = common::activity_kinds(db.db(), "rotate@example.com").await;
    assert!(
        kinds.contains(&"credentials.regenerated".to_string()),
        "{kinds:?}"
    );
    service.stop().await.expect("clean stop");
    db.close().await;
}
on_both_engines!(regenerating_the_password_takes_effect_in_the_gateway);

async fn credentials_are_only_for_the_signed_in_account(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let anonymous = Browser::new(&service);
    let response = anonymous.post("/api/credentials", &[]).await;
    assert_eq!(response.status(), 401);
    let regenerate = anonymous.post("/api/credentials/regenerate", &[]).await;
    assert_eq!(regenerate.status(), 401);
    service.stop().await.expect("clean stop");
    db.close().await;
}
on_both_engines!(credentials_are_only_for_the_signed_in_account);

/// An account made without proxy credentials (as one made before they existed) gets them on
/// its first view; first views racing each other all get the same ones, none an error.
async fn racing_first_views_all_get_the_same_credentials(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let hash = store::accounts::hash_password(common::CUSTOMER_PASSWORD).expect("hash");
    let now = store::now_ms();
    store::accounts::create(
        db.db(),
        "late@example.com",
        &hash,
        store::accounts::Role::Customer,
        now,
    )
    .await
    .expect("account");
    let service = Service::start(db.url()).await;
    let browser = Browser::new(&service);
    browser.sign_in_customer("late@example.com").await;
    let views = (0..8).map(|_| async {
        let response = browser.post("/api/credentials", &[]).await;
        assert_eq!(response.status(), 200);
        let shown: serde_json::Value = response.json().await.expect("json");
        shown["username"].as_str().expect("a username").to_owned()
    });
    let names = futures::future::join_all(views).await;
    assert!(
        names.iter().all(|n| n == &names[0]),
        "one set of credentials: {names:?}"
    );
    service.stop().await.expect("clean stop");
    db.close().await;
}
on_both_engines!(racing_first_views_all_get_the_same_credentials);
