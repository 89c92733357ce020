//! "Test my proxy" against the running service, on SQLite and PostgreSQL: probes through the
//! HTTP and SOCKS5 ports reach the built-in echo and report the IP it saw, the timings and
//! (HTTP) the exit; an account without quota gets quota_exceeded with its hint; the eleventh
//! probe in a minute is refused; the probes' bytes are metered to the account. Through an
//! exit, the exit is named with its place; with `ATLANTIC_PROBE_URL` the target's status line
//! and first bytes are shown, and an https one is spoken to over TLS through the tunnel; the
//! echo honours trusted proxies and limits each source.

mod common;

use std::time::Duration;

use common::{Browser, Engine, Service, TestDb};
use serde_json::Value;

/// Runs the server function `test_proxy` as the signed-in browser.
async fn probe(browser: &Browser, protocol: &str, country: &str) -> Value {
    let response = browser
        .post(
            "/api/probe",
            &[
                ("spec[protocol]", protocol),
                ("spec[country]", country),
                ("spec[city]", ""),
                ("spec[session]", ""),
            ],
        )
        .await;
    assert_eq!(response.status(), 200, "the probe server function answers");
    response.json().await.expect("a probe report")
}

async fn metered(db: &TestDb, email: &str) -> i64 {
    let account = store::accounts::by_email(db.db(), email)
        .await
        .expect("query")
        .expect("account");
    let t = store::usage::totals(db.db(), account.id, 0, i64::MAX)
        .await
        .expect("totals");
    t.bytes_up + t.bytes_down
}

async fn probes_go_through_both_ports_and_are_limited_and_metered(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let (user, password) = common::customer(db.db(), "probe@example.com", "Starter").await;
    let service = Service::start(db.url()).await;

    // the echo itself: public, no session, the peer's address
    let echo: Value = service
        .get("/probe/echo")
        .await
        .json()
        .await
        .expect("echo json");
    assert_eq!(echo["probe"], "atlantic");
    assert_eq!(echo["ip"], "127.0.0.1");

    let browser = Browser::new(&service);
    browser.sign_in_customer("probe@example.com").await;
    let before = metered(&db, "probe@example.com").await;

    let http = probe(&browser, "http", "").await;
    assert_eq!(http["error"], Value::Null, "{http}");
    assert_eq!(http["protocol"], "http");
    assert_eq!(http["seen_ip"], "127.0.0.1", "{http}");
    assert!(http["connect_ms"].as_u64().is_some(), "{http}");
    let (connect, first_byte) = (
        http["connect_ms"].as_u64().expect("ms"),
        http["first_byte_ms"].as_u64().expect("ms"),
    );
    assert!(first_byte >= connect, "{http}");
    assert!(first_byte < 10_000, "{http}");
    // no exits configured: the gateway went direct and said so in its CONNECT answer
    assert_eq!(http["exit"]["id"], 0, "{http}");
    assert!(
        http["target"]
            .as_str()
            .is_some_and(|t| t.ends_with("/probe/echo")),
        "{http}"
    );
    let shown = http["proxy_url"].as_str().expect("url");
    assert!(
        shown.starts_with(&format!("http://{user}:")) && !shown.contains(&password),
        "the password is never shown: {http}"
    );

    let socks = probe(&browser, "socks5", "").await;
    assert_eq!(socks["error"], Value::Null, "{socks}");
    assert_eq!(socks["seen_ip"], "127.0.0.1", "{socks}");
    assert!(socks["first_byte_ms"].as_u64().is_some(), "{socks}");
    assert_eq!(socks["exit"], Value::Null, "{socks}");
    assert_eq!(
        socks["exit_note"], "SOCKS5 does not report the exit; the HTTP port does.",
        "{socks}"
    );

    // a country no exit serves: the gateway's own code, with its hint
    let nowhere = probe(&browser, "http", "zz").await;
    let code = nowhere["error"]["code"].as_str().unwrap_or("");
    assert!(
        ["no_exit", "bad_parameters"].contains(&code),
        "a targeting nothing matches is refused with a code: {nowhere}"
    );
    assert!(
        !nowhere["error"]["hint"].as_str().unwrap_or("").is_empty(),
        "{nowhere}"
    );

    // ten a minute: seven more go through, the eleventh is refused with the wait
    for n in 4..=10 {
        let report = probe(&browser, "http", "").await;
        assert_eq!(report["error"], Value::Null, "probe {n}: {report}");
    }
    let refused = probe(&browser, "http", "").await;
    assert_eq!(refused["error"]["code"], "too_many_probes", "{refused}");
    let message = refused["error"]["message"].as_str().expect("message");
    assert!(
        message.starts_with("Too many probes: try again in ") && message.ends_with(" s."),
        "{message}"
    );

    // the probes were the account's traffic through the gateway: metered like any
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now = metered(&db, "probe@example.com").await;
        if now > before {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the probes' bytes were not metered ({before} → {now})"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    service.stop().await.expect("clean stop");
    db.close().await;
}
on_both_engines!(probes_go_through_both_ports_and_are_limited_and_metered);

async fn an_account_without_quota_is_told_so(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    // credentials, but no plan: nothing to spend
    let now = store::now_ms();
    let hash = store::accounts::hash_password(common::CUSTOMER_PASSWORD).expect("hash");
    let account = store::accounts::create(
        db.db(),
        "noplan@example.com",
        &hash,
        store::accounts::Role::Customer,
        now,
    )
    .await
    .expect("account");
    store::credentials::create(db.db(), account.id, now)
        .await
        .expect("credentials");
    let service = Service::start(db.url()).await;
    let browser = Browser::new(&service);
    browser.sign_in_customer("noplan@example.com").await;

    let report = probe(&browser, "http", "").await;
    assert_eq!(report["error"]["code"], "quota_exceeded", "{report}");
    assert!(
        report["error"]["hint"]
            .as_str()
            .is_some_and(|h| h.starts_with("Your plan's data is used up")),
        "{report}"
    );
    assert_eq!(report["seen_ip"], Value::Null, "{report}");

    // over SOCKS5 the refusal is the ruleset's reply, which names no single code
    let socks = probe(&browser, "socks5", "").await;
    assert!(
        socks["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("(0x02)")),
        "{socks}"
    );
    assert!(
        socks["error"]["hint"]
            .as_str()
            .is_some_and(|h| h.contains("test over HTTP")),
        "{socks}"
    );

    // signed out: no probe at all
    let anonymous = Browser::new(&service);
    let response = anonymous
        .post("/api/probe", &[("spec[protocol]", "http")])
        .await;
    assert_eq!(response.status(), 401);

    service.stop().await.expect("clean stop");
    db.close().await;
}
on_both_engines!(an_account_without_quota_is_told_so);

/// A minimal upstream HTTP proxy relaying `CONNECT` tunnels (no credentials), as an exit.
async fn relay_exit() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match client.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head).to_string();
                let Some(target) = text
                    .strip_prefix("CONNECT ")
                    .and_then(|rest| rest.split_whitespace().next())
                else {
                    return;
                };
                let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                if client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await
                    .is_ok()
                {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    addr
}

async fn a_probe_names_the_exit_it_went_through(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    common::customer(db.db(), "exit@example.com", "Starter").await;
    let relay = relay_exit().await;
    let url = format!("http://{relay}");
    let exit = store::exits::add(
        db.db(),
        &store::exits::NewExit {
            city: Some("lagos"),
            name: Some("Lagos relay"),
            ..store::exits::NewExit::new(&url, "ng")
        },
        store::now_ms(),
    )
    .await
    .expect("add exit");
    let service = Service::start(db.url()).await;
    let browser = Browser::new(&service);
    browser.sign_in_customer("exit@example.com").await;

    // the gateway picks the exit up with its directory; a few tries at most
    let mut report = Value::Null;
    for _ in 0..5 {
        report = probe(&browser, "http", "ng").await;
        if report["error"] == Value::Null {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(report["error"], Value::Null, "{report}");
    assert_eq!(report["exit"]["id"], exit.id.0, "{report}");
    assert_eq!(report["exit"]["name"], "Lagos relay", "{report}");
    assert_eq!(report["exit"]["country"], "ng", "{report}");
    assert_eq!(report["exit"]["city"], "lagos", "{report}");
    assert_eq!(report["seen_ip"], "127.0.0.1", "{report}");

    service.stop().await.expect("clean stop");
    db.close().await;
}
on_both_engines!(a_probe_names_the_exit_it_went_through);

async fn a_configured_probe_url_and_the_echo_rules(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    common::customer(db.db(), "custom@example.com", "Starter").await;
    let origin = common::origin("hello from the origin").await;
    let probe_url = format!("http://{origin}/somewhere?x=1");
    let service = Service::start_with(
        db.url(),
        &[
            ("ATLANTIC_PROBE_URL", probe_url.as_str()),
            ("ATLANTIC_TRUSTED_PROXIES", "127.0.0.1/32"),
        ],
    )
    .await;
    let browser = Browser::new(&service);
    browser.sign_in_customer("custom@example.com").await;

    // not our echo: the status line and the first bytes instead of an IP
    let report = probe(&browser, "http", "").await;
    assert_eq!(report["error"], Value::Null, "{report}");
    assert_eq!(report["target"], probe_url.as_str(), "{report}");
    assert_eq!(report["seen_ip"], Value::Null, "{report}");
    assert_eq!(report["status_line"], "HTTP/1.1 200 OK", "{report}");
    assert_eq!(report["preview"], "hello from the origin", "{report}");

    // the echo honours the trusted reverse proxies, and limits each source
    let echo = |xff: &'static str| {
        let url = format!("{}/probe/echo", service.base);
        async move {
            common::client()
                .get(url)
                .header("x-forwarded-for", xff)
                .send()
                .await
                .expect("echo")
        }
    };
    let seen: Value = echo("203.0.113.9").await.json().await.expect("json");
    assert_eq!(seen["ip"], "203.0.113.9");
    // 300 a minute: the bucket refills one every 200 ms while this runs, so a few more pass
    let mut allowed = 0;
    let refused = loop {
        let response = echo("203.0.113.10").await;
        if response.status() != 200 || allowed == 400 {
            break response;
        }
        allowed += 1;
    };
    assert!((300..400).contains(&allowed), "{allowed} allowed");
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(echo("203.0.113.11").await.status(), 200, "another source");

    service.stop().await.expect("clean stop");
    db.close().await;
}
on_both_engines!(a_configured_probe_url_and_the_echo_rules);

async fn an_https_target_is_spoken_to_over_tls(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    common::customer(db.db(), "tls@example.com", "Starter").await;
    // not a TLS server: it reads the client's first bytes and hangs up
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("bound");
    let hello = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let seen = hello.clone();
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 8];
            if let Ok(n) = socket.read(&mut buf).await {
                seen.lock().await.extend_from_slice(&buf[..n]);
            }
        }
    });
    let probe_url = format!("https://{addr}/");
    let service =
        Service::start_with(db.url(), &[("ATLANTIC_PROBE_URL", probe_url.as_str())]).await;
    let browser = Browser::new(&service);
    browser.sign_in_customer("tls@example.com").await;

    let report = probe(&browser, "http", "").await;
    let message = report["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("TLS handshake failed"),
        "the tunnel opened, the TLS handshake did not: {report}"
    );
    // what reached the target through the tunnel was a TLS handshake record (0x16)
    assert_eq!(hello.lock().await.first(), Some(&0x16), "{report}");

    service.stop().await.expect("clean stop");
    db.close().await;
}
on_both_engines!(an_https_target_is_spoken_to_over_tls);
