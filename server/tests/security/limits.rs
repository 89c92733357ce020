//! Per-endpoint rate limits, per source (an IPv6 client by its /64) and per plan.

use crate::common::{self, Browser, Engine, Service, TestDb};

fn header(response: &reqwest::Response, name: &str) -> Option<u64> {
    response.headers().get(name)?.to_str().ok()?.parse().ok()
}

/// The most calls a bucket of `per_minute` may allow before refusing, when the calls took
/// `elapsed`: its burst plus what it refilled meanwhile (a loaded machine is slow).
fn allowance(per_minute: u64, elapsed: std::time::Duration) -> u64 {
    per_minute + (elapsed.as_secs_f64() * per_minute as f64 / 60.0).ceil() as u64
}

async fn api_calls_are_limited_per_ip_and_per_plan(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let anonymous = Browser::new(&service);
    // Until refused: the burst of 100, plus what refilled while the calls ran.
    let started = std::time::Instant::now();
    let mut remaining = Vec::new();
    let limited = loop {
        let response = anonymous.post("/api/security", &[]).await;
        if response.status() == 429 {
            break response;
        }
        assert_eq!(
            response.status(),
            401,
            "anonymous callers are still answered"
        );
        assert_eq!(header(&response, "x-ratelimit-limit"), Some(100));
        assert!(header(&response, "x-ratelimit-reset").is_some_and(|s| s <= 60));
        remaining.push(header(&response, "x-ratelimit-remaining").expect("remaining"));
        assert!(
            remaining.len() as u64 <= allowance(100, started.elapsed()),
            "{} calls allowed in {:?}",
            remaining.len(),
            started.elapsed()
        );
    };
    assert!(remaining.len() >= 100, "refused after {}", remaining.len());
    assert_eq!(remaining.first(), Some(&99));
    assert_eq!(remaining.last(), Some(&0));
    assert!(header(&limited, "retry-after").is_some_and(|s| (1..=60).contains(&s)));
    assert_eq!(header(&limited, "x-ratelimit-remaining"), Some(0));
    assert_eq!(
        service.get("/health").await.status(),
        200,
        "other endpoints are not affected"
    );
    service.stop().await.expect("clean stop");

    // A signed-in account without a plan has 60 calls a minute, below the IP's 100.
    let service = Service::start(db.url()).await;
    let hash = store::accounts::hash_password(common::CUSTOMER_PASSWORD).unwrap();
    store::accounts::create(
        db.db(),
        "fay@example.com",
        &hash,
        store::accounts::Role::Customer,
        store::now_ms(),
    )
    .await
    .unwrap();
    let fay = Browser::new(&service);
    fay.sign_in_customer("fay@example.com").await;
    let started = std::time::Instant::now();
    let mut allowed = 0;
    loop {
        let response = fay.post("/api/security", &[]).await;
        if response.status() == 429 {
            break;
        }
        allowed += 1;
        assert_eq!(response.status(), 200, "call {allowed}");
        assert_eq!(
            header(&response, "x-ratelimit-limit"),
            Some(60),
            "the tighter bucket"
        );
        assert!(
            allowed <= allowance(60, started.elapsed()),
            "{allowed} calls allowed in {:?}",
            started.elapsed()
        );
    }
    assert!(allowed >= 60, "refused after {allowed}");

    // Sign-in attempts: five a minute per IP (fay's sign-in was the first), with the same
    // headers.
    let other = Browser::new(&service);
    for n in 1..5 {
        let attempt = other
            .post(
                "/login",
                &[
                    ("email", "nobody@example.com"),
                    ("password", "wrong password"),
                ],
            )
            .await;
        assert_eq!(attempt.status(), 303, "attempt {n}");
        assert_eq!(header(&attempt, "x-ratelimit-limit"), Some(5));
    }
    let sixth = other
        .post(
            "/login",
            &[
                ("email", "nobody@example.com"),
                ("password", "wrong password"),
            ],
        )
        .await;
    assert_eq!(sixth.status(), 429);
    assert!(header(&sixth, "retry-after").is_some());
    service.stop().await.expect("clean stop");
}
on_both_engines!(api_calls_are_limited_per_ip_and_per_plan);

async fn ipv6_clients_are_limited_per_64(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    // Behind a trusted reverse proxy (the test itself), each request names its client.
    let service = Service::start_with(db.url(), &[("ATLANTIC_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let client = common::client();
    let attempt = |from: &str, n: usize| {
        let request = client
            .post(format!("{}/login", service.base))
            .header("origin", service.base.clone())
            .header("x-forwarded-for", from)
            .form(&[
                ("email", format!("nobody{n}@example.com")),
                ("password", "wrong password".to_string()),
            ]);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    // Five sign-in attempts a minute per source: five addresses of one /64 spend it.
    let one_64 = ["::1", "::2", ":aaaa::3", ":ffff:ffff:ffff:fffe", ":1234::9"];
    for (n, tail) in one_64.iter().enumerate() {
        let from = format!("2001:db8:1:2{tail}");
        assert_ne!(attempt(&from, n).await, 429, "{from}");
    }
    assert_eq!(
        attempt("2001:db8:1:2:5::5", 10).await,
        429,
        "the /64's sixth"
    );
    assert_ne!(attempt("2001:db8:1:3::1", 11).await, 429, "the next /64");
    // An IPv4-mapped address is its IPv4 address.
    for n in 0..5 {
        let from = if n % 2 == 0 {
            "203.0.113.5"
        } else {
            "::ffff:203.0.113.5"
        };
        assert_ne!(attempt(from, 20 + n).await, 429, "{from}");
    }
    assert_eq!(attempt("::ffff:203.0.113.5", 30).await, 429);
    service.stop().await.expect("clean stop");
}
on_both_engines!(ipv6_clients_are_limited_per_64);
