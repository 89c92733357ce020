//! The whole service started in-process: health, readiness, metrics, pages, assets, headers,
//! restart and graceful shutdown, on SQLite and PostgreSQL alike.

mod common;

use common::{Engine, Service, TestDb};

async fn health_and_readiness_report_the_real_state(engine: Engine) {
    let Some(db) = TestDb::unmigrated(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;

    let health: serde_json::Value = service.get("/health").await.json().await.expect("json");
    assert_eq!(health["status"], "ok");
    assert_eq!(
        service.get("/live").await.text().await.expect("text"),
        "ok\n"
    );
    let ready = service.get("/ready").await;
    assert_eq!(ready.status(), 200);

    let detailed: serde_json::Value = service
        .get("/health/detailed")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(detailed["status"], "ok");
    assert_eq!(detailed["database"]["engine"], engine.to_string());
    assert_eq!(detailed["database"]["ok"], true);
    assert!(
        detailed["database"]["latency_ms"]
            .as_f64()
            .expect("latency")
            >= 0.0
    );
    assert!(detailed["database"]["pool"]["max"].as_u64().expect("max") >= 1);
    assert_eq!(
        detailed["proxy"]["http"]["addr"],
        service.http_proxy.to_string()
    );
    assert_eq!(detailed["proxy"]["socks5"]["listening"], true);

    // Reverting a migration under the running service makes it unready, with the reason.
    db.db().revert_last().await.expect("revert");
    let not_ready = service.get("/ready").await;
    assert_eq!(not_ready.status(), 503);
    let body: serde_json::Value = not_ready.json().await.expect("json");
    assert!(
        body["reasons"][0]
            .as_str()
            .expect("reason")
            .contains("pending"),
        "{body}"
    );
    db.db().migrate().await.expect("migrate again");
    assert_eq!(service.get("/ready").await.status(), 200);

    service.stop().await.expect("clean stop");
    db.close().await;
}
on_both_engines!(health_and_readiness_report_the_real_state);

async fn metrics_are_prometheus_text_labelled_by_route(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    for _ in 0..3 {
        service.get("/health").await;
    }
    service.get("/no/such/page/12345").await;
    let response = service.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/plain"),
        "prometheus text format"
    );
    let text = response.text().await.expect("text");
    let health_line = text
        .lines()
        .find(|l| {
            l.starts_with("http_requests_total{")
                && l.contains("route=\"/health\"")
                && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no /health request counter in:\n{text}"));
    let count: f64 = health_line
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("value");
    assert!(count >= 3.0, "{health_line}");
    assert!(
        text.contains("http_request_duration_seconds_bucket{"),
        "latency histogram"
    );
    assert!(text.contains("db_pool_max_connections"), "pool gauges");
    // Unknown paths are one label value, not one series per path.
    assert!(!text.contains("12345"), "raw paths must not become labels");
    service.stop().await.expect("clean stop");
    db.close().await;
}
on_both_engines!(metrics_are_prometheus_text_labelled_by_route);

async fn internals_are_closed_to_relayed_clients(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    for path in ["/metrics", "/health/detailed"] {
        let relayed = common::client()
            .get(format!("{}{path}", service.base))
            .header("x-forwarded-for", "203.0.113.9")
            .send()
            .await
            .expect("request");
        assert_eq!(relayed.status(), 401, "{path} via a reverse proxy");
        assert!(relayed.headers().contains_key("www-authenticate"));
    }
    // Nor through the gateway's own egress, which would come from loopback: the gateway
    // refuses its own service as a destination, even with private destinations allowed (as
    // here), by address and by name.
    let (user, password) = common::customer(db.db(), "egress@example.com", "Starter").await;
    let proxy = format!("http://{user}:{password}@{}", service.http_proxy);
    let through_gateway = reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(proxy).expect("proxy"))
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .expect("client");
    let port = service.web.port();
    for url in [
        format!("http://127.0.0.1:{port}/metrics"),
        format!("http://localhost:{port}/health/detailed"),
    ] {
        // the customer reaches the gateway at its next directory load
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        let refused = loop {
            let r = through_gateway.get(&url).send().await.expect("request");
            if r.status() != 407 || tokio::time::Instant::now() > deadline {
                break r;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        assert_eq!(refused.status(), 403, "{url}");
        let code = refused.headers().get("x-atlantic-error").cloned();
        assert_eq!(
            code.as_ref().and_then(|v| v.to_str().ok()),
            Some("destination_blocked")
        );
    }
    service.stop().await.expect("clean stop");
    db.close().await;
}
on_both_engines!(internals_are_closed_to_relayed_clients);

async fn pages_render_on_the_server_with_hashed_assets(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    common::customer(db.db(), "pages@example.com", "Starter").await;
    let service = Service::start(db.url()).await;
    let browser = common::Browser::new(&service);
    browser.sign_in_customer("pages@example.com").await;

    let home = browser.get("/").await;
    assert_eq!(home.status(), 200);
    assert_eq!(
        home.headers()["cache-control"],
        "no-store",
        "account pages are never cached"
    );
    assert!(home.headers().contains_key("x-request-id"));
    assert_eq!(home.headers()["x-content-type-options"], "nosniff");
    assert_eq!(home.headers()["x-frame-options"], "DENY");
    assert_eq!(home.headers()["cross-origin-opener-policy"], "same-origin");
    let permissions = home.headers()["permissions-policy"]
        .to_str()
        .expect("ascii");
    for feature in ["geolocation=()", "camera=()", "microphone=()"] {
        assert!(permissions.contains(feature), "{permissions}");
    }
    assert!(
        home.headers().get("strict-transport-security").is_none(),
        "no HSTS on plain-http development"
    );
    let html = home.text().await.expect("html");
    assert!(html.contains("<h1>Statistics</h1>"), "{html}");
    assert!(
        html.contains("/pkg/atlantic-test.css"),
        "hashed stylesheet linked"
    );
    assert!(
        html.contains("atlantic-test"),
        "hydration script names the hashed wasm"
    );

    let billing = browser.get("/billing").await.text().await.expect("html");
    for text in ["Starter", "₦5,000", "Personal", "Team", "Enterprise"] {
        assert!(billing.contains(text), "billing lists {text}");
    }
    assert!(
        !billing.contains("Unlimited</h3>"),
        "the internal plan is not for sale"
    );

    let missing = browser.get("/definitely-not-a-page").await;
    assert_eq!(missing.status(), 404);

    let css = service.get("/pkg/atlantic-test.css").await;
    assert_eq!(css.status(), 200);
    assert_eq!(
        css.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let absent = service.get("/pkg/atlantic-nope.css").await;
    assert_eq!(absent.status(), 404);
    assert!(
        absent.headers().get("cache-control").is_none(),
        "404s are not cached forever"
    );

    let compressed = common::client()
        .get(format!("{}/pkg/atlantic-test.css", service.base))
        .header("accept-encoding", "br")
        .send()
        .await
        .expect("request");
    assert_eq!(compressed.headers()["content-encoding"], "br");

    service.stop().await.expect("clean stop");
    db.close().await;
}
on_both_engines!(pages_render_on_the_server_with_hashed_assets);

async fn data_survives_a_restart_and_the_demo_is_seeded_once(engine: Engine) {
    let Some(db) = TestDb::unmigrated(engine).await else {
        return;
    };
    let first = Service::start(db.url()).await;
    first.stop().await.expect("clean stop");
    let accounts = store::accounts::count(db.db()).await.expect("count");
    assert_eq!(
        accounts, 1,
        "development seeds one demo account on an empty database"
    );

    let now = store::now_ms();
    let hash = store::accounts::hash_password("a long enough password").expect("hash");
    store::accounts::create(
        db.db(),
        "kept@example.com",
        &hash,
        store::accounts::Role::Customer,
        now,
    )
    .await
    .expect("create");

    let second = Service::start(db.url()).await;
    second.stop().await.expect("clean stop");
    assert_eq!(
        store::accounts::count(db.db()).await.expect("count"),
        2,
        "no second seed"
    );
    assert!(
        store::accounts::by_email(db.db(), "kept@example.com")
            .await
            .expect("query")
            .is_some()
    );
    db.close().await;
}
on_both_engines!(data_survives_a_restart_and_the_demo_is_seeded_once);

async fn shutdown_stops_accepting_and_returns_cleanly(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let (web, http_proxy, socks_proxy) = (service.web, service.http_proxy, service.socks_proxy);
    let started = std::time::Instant::now();
    service.stop().await.expect("run returns Ok after shutdown");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "stops promptly when idle"
    );
    for addr in [web, http_proxy, socks_proxy] {
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "{addr} still accepts"
        );
    }
    db.close().await;
}
on_both_engines!(shutdown_stops_accepting_and_returns_cleanly);

async fn gateway_traffic_reaches_metrics_and_the_usage_tables(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let origin = common::origin("hello from the origin").await;
    let (user, pass) = common::customer(db.db(), "traffic@example.com", "Starter").await;
    // Started after the account exists, so the gateway's first directory load includes it.
    let service = Service::start(db.url()).await;

    let proxied = reqwest::Client::builder()
        .proxy(
            reqwest::Proxy::all(format!("http://{user}:{pass}@{}", service.http_proxy))
                .expect("proxy"),
        )
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("client");
    for _ in 0..3 {
        let body = proxied
            .get(format!("http://{origin}/"))
            .send()
            .await
            .expect("proxied")
            .text()
            .await
            .expect("body");
        assert_eq!(body, "hello from the origin");
    }
    let socks = reqwest::Client::builder()
        .proxy(
            reqwest::Proxy::all(format!("socks5h://{user}:{pass}@{}", service.socks_proxy))
                .expect("proxy"),
        )
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("client");
    let body = socks
        .get(format!("http://{origin}/"))
        .send()
        .await
        .expect("socks")
        .text()
        .await
        .expect("body");
    assert_eq!(body, "hello from the origin");

    // The engine's counters appear in /metrics (published by its once-a-second tick).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let text = service.get("/metrics").await.text().await.expect("text");
        let requests = text
            .lines()
            .find(|l| l.starts_with("atlantic_proxy_requests_total"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<f64>().ok())
            .unwrap_or(0.0);
        if requests >= 4.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gateway counters missing:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // Shutdown flushes what is still buffered: everything is in the database afterwards.
    service.stop().await.expect("clean stop");
    let account = store::accounts::by_email(db.db(), "traffic@example.com")
        .await
        .expect("q")
        .expect("account");
    let totals = store::usage::totals(db.db(), account.id, 0, i64::MAX)
        .await
        .expect("totals");
    assert_eq!(totals.requests, 4, "{totals:?}");
    assert_eq!(totals.errors, 0, "{totals:?}");
    assert!(
        totals.bytes_down >= 4 * "hello from the origin".len() as i64,
        "{totals:?}"
    );
    assert!(totals.bytes_up > 0, "{totals:?}");
    db.close().await;
}
on_both_engines!(gateway_traffic_reaches_metrics_and_the_usage_tables);

async fn production_adds_strict_transport_security(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let production = [
        ("ATLANTIC_ENV", "production"),
        ("ATLANTIC_SECRET", "0123456789abcdef0123456789abcdef"),
        ("ATLANTIC_PUBLIC_URL", "https://proxy.example.com"),
        ("PAYSTACK_SECRET_KEY", "sk_test_x"),
        ("PAYSTACK_PUBLIC_KEY", "pk_test_x"),
        // A test deployment: Paystack test keys, and the harness's loopback origins (the
        // common setup turns private destinations on), both acknowledged as production asks.
        ("ATLANTIC_PAYSTACK_TEST_MODE", "1"),
        (
            "ATLANTIC_ALLOW_PRIVATE_DESTINATIONS_ACK",
            server::config::PRIVATE_DESTINATIONS_ACK,
        ),
    ];
    let service = Service::start_with(db.url(), &production).await;
    let response = service.get("/health").await;
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
    assert_eq!(
        store::accounts::count(db.db()).await.expect("count"),
        0,
        "production seeds no demo account"
    );
    service.stop().await.expect("clean stop");
    db.close().await;
}
on_both_engines!(production_adds_strict_transport_security);
