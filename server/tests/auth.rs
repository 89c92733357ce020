//! Accounts on the web: registration, sign-in, sign-out, sessions, brute-force limits and
//! cross-site request refusal, through the real service on SQLite and PostgreSQL.

mod common;

use common::{Browser, Engine, Service, TestDb, location, session_cookie};

const PASSWORD: &str = "violet-kettle-orbit-91";

async fn register_sign_in_and_sign_out(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let browser = Browser::new(&service);

    let anonymous = browser.get("/usage").await;
    assert_eq!(anonymous.status(), 303, "pages need a session");
    assert_eq!(location(&anonymous), "/login");
    assert_eq!(browser.get("/login").await.status(), 200);

    let registered = browser
        .post(
            "/register",
            &[("email", "Grace@Example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(registered.status(), 303);
    assert_eq!(location(&registered), "/login?registered=1");
    let account = store::accounts::by_email(db.db(), "grace@example.com")
        .await
        .expect("q")
        .expect("created");
    assert!(
        store::credentials::by_account(db.db(), account.id)
            .await
            .expect("q")
            .is_some(),
        "proxy credentials made"
    );

    let signed_in = browser
        .post(
            "/login",
            &[("email", "grace@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(location(&signed_in), "/");
    let cookie = session_cookie(&signed_in).expect("session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "development serves plain http: {cookie}"
    );

    let home = browser.get("/usage").await;
    assert_eq!(home.status(), 200);
    let html = home.text().await.expect("html");
    assert!(
        html.contains("grace@example.com"),
        "the top bar shows who is signed in"
    );

    let kinds = common::activity_kinds(db.db(), "grace@example.com").await;
    assert!(
        kinds.contains(&"sign_in.succeeded".to_string()),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"account.registered".to_string()),
        "{kinds:?}"
    );

    let out = browser.post("/logout", &[]).await;
    assert_eq!(out.status(), 303);
    assert_eq!(
        browser.get("/usage").await.status(),
        303,
        "signed out for real"
    );
    service.stop().await.expect("clean stop");
    db.close().await;
}
on_both_engines!(register_sign_in_and_sign_out);

async fn failures_do_not_reveal_which_emails_exist(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let (_, _) = common::customer(db.db(), "known@example.com", "Starter").await;
    let service = Service::start(db.url()).await;
    let browser = Browser::new(&service);

    let wrong = browser
        .post(
            "/login",
            &[
                ("email", "known@example.com"),
                ("password", "not the password"),
            ],
        )
        .await;
    let unknown = browser
        .post(
            "/login",
            &[
                ("email", "nobody@example.com"),
                ("password", "not the password"),
            ],
        )
        .await;
    assert_eq!(
        (wrong.status(), location(&wrong)),
        (unknown.status(), location(&unknown))
    );
    assert_eq!(location(&wrong), "/login?error=credentials");
    assert!(session_cookie(&wrong).is_none() && session_cookie(&unknown).is_none());

    // Registering a taken email looks exactly like registering a new one, and changes nothing.
    let taken = browser
        .post(
            "/register",
            &[("email", "known@example.com"), ("password", PASSWORD)],
        )
        .await;
    let fresh = browser
        .post(
            "/register",
            &[("email", "fresh@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        (taken.status(), location(&taken)),
        (fresh.status(), location(&fresh))
    );
    let known = store::accounts::by_email(db.db(), "known@example.com")
        .await
        .expect("q")
        .expect("kept");
    assert!(
        store::accounts::verify_password(common::CUSTOMER_PASSWORD, &known.password_hash),
        "not overwritten"
    );

    let weak = browser
        .post(
            "/register",
            &[("email", "weak@example.com"), ("password", "password123")],
        )
        .await;
    assert_eq!(location(&weak), "/register?error=weak");
    assert!(
        store::accounts::by_email(db.db(), "weak@example.com")
            .await
            .expect("q")
            .is_none()
    );
    service.stop().await.expect("clean stop");
    db.close().await;
}
on_both_engines!(failures_do_not_reveal_which_emails_exist);

async fn the_sixth_attempt_in_a_minute_gets_429(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let browser = Browser::new(&service);
    for n in 0..5 {
        let r = browser
            .post(
                "/login",
                &[
                    ("email", "target@example.com"),
                    ("password", &format!("guess {n}")),
                ],
            )
            .await;
        assert_eq!(r.status(), 303, "attempt {n} is answered normally");
    }
    let limited = browser
        .post(
            "/login",
            &[("email", "target@example.com"), ("password", "guess 6")],
        )
        .await;
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    service.stop().await.expect("clean stop");
    db.close().await;
}
on_both_engines!(the_sixth_attempt_in_a_minute_gets_429);

async fn cross_site_posts_are_refused(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    common::customer(db.db(), "victim@example.com", "Starter").await;
    let service = Service::start(db.url()).await;
    let browser = Browser::new(&service);
    let form = [
        ("email", "victim@example.com"),
        ("password", common::CUSTOMER_PASSWORD),
    ];

    let forged = browser
        .post_from("/login", &form, Some("https://evil.example"))
        .await;
    assert_eq!(forged.status(), 403);
    assert!(session_cookie(&forged).is_none());
    let bare = browser.post_from("/login", &form, None).await;
    assert_eq!(
        bare.status(),
        403,
        "no Origin and no Referer is refused too"
    );
    let registered = browser
        .post_from(
            "/register",
            &[("email", "csrf@example.com"), ("password", PASSWORD)],
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(registered.status(), 403);
    assert!(
        store::accounts::by_email(db.db(), "csrf@example.com")
            .await
            .expect("q")
            .is_none(),
        "no side effect"
    );

    // A server function is a POST too.
    let server_fn = browser
        .client
        .post(format!("{}/api/whoami", service.base))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("post");
    assert_eq!(server_fn.status(), 403);
    service.stop().await.expect("clean stop");
    db.close().await;
}
on_both_engines!(cross_site_posts_are_refused);

async fn each_sign_in_gets_a_new_session_id(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    common::customer(db.db(), "fixation@example.com", "Starter").await;
    let service = Service::start(db.url()).await;
    let browser = Browser::new(&service);
    let form = [
        ("email", "fixation@example.com"),
        ("password", common::CUSTOMER_PASSWORD),
    ];
    let first = session_cookie(&browser.post("/login", &form).await).expect("cookie");
    let second = session_cookie(&browser.post("/login", &form).await).expect("cookie");
    let id = |c: &str| c.split(';').next().unwrap_or_default().to_string();
    assert_ne!(
        id(&first),
        id(&second),
        "the id is cycled at sign-in (no fixation)"
    );
    service.stop().await.expect("clean stop");
    db.close().await;
}
on_both_engines!(each_sign_in_gets_a_new_session_id);

async fn behind_a_trusted_proxy_each_client_has_its_own_budget(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start_with(db.url(), &[("ATLANTIC_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let browser = Browser::new(&service);
    let attempt = |client: &'static str, n: u32| {
        let request = browser
            .client
            .post(format!("{}/login", service.base))
            .header("origin", &service.base)
            .header("x-forwarded-for", format!("6.6.6.6, {client}"))
            .form(&[
                ("email", format!("user{n}@example.com")),
                ("password", "wrong password".into()),
            ]);
        async move { request.send().await.expect("post").status() }
    };
    for n in 0..5 {
        assert_eq!(attempt("203.0.113.1", n).await, 303);
    }
    assert_eq!(
        attempt("203.0.113.1", 5).await,
        429,
        "the first client is over its budget"
    );
    assert_eq!(
        attempt("203.0.113.2", 6).await,
        303,
        "a second client behind the proxy is not"
    );
    service.stop().await.expect("clean stop");

    // Without the setting, X-Forwarded-For is the client's claim and is ignored.
    let service = Service::start(db.url()).await;
    let browser = Browser::new(&service);
    for n in 0..6 {
        let status = browser
            .client
            .post(format!("{}/login", service.base))
            .header("origin", &service.base)
            .header("x-forwarded-for", format!("198.51.100.{n}"))
            .form(&[
                ("email", format!("other{n}@example.com")),
                ("password", "wrong password".to_string()),
            ])
            .send()
            .await
            .expect("post")
            .status();
        assert_eq!(
            status,
            if n < 5 { 303 } else { 429 },
            "attempt {n}: forged headers change nothing"
        );
    }
    service.stop().await.expect("clean stop");
    db.close().await;
}
on_both_engines!(behind_a_trusted_proxy_each_client_has_its_own_budget);
