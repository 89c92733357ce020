//! Account security through the real service on SQLite and PostgreSQL: two-factor sign-in with
//! TOTP and recovery codes, password change, signing out the other sessions, the gateway IP
//! allowlist, the administrator's pages, per-endpoint rate limits and the CSP nonce.

// A failed unwrap here is a failed test with its location, which is all it needs to say.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Browser, Engine, Service, TestDb, activity_kinds, customer, location};
use store::two_factor;

fn unix_now() -> u64 {
    u64::try_from(store::now_ms() / 1000).expect("clock after 1970")
}

/// The recovery codes (`xxxxx-xxxxx`) inside the page's recovery-code list.
fn recovery_codes_in(html: &str) -> Vec<String> {
    let Some(start) = html.find("id=\"recovery-codes\"") else {
        return Vec::new();
    };
    let list = &html[start
        ..html[start..]
            .find("</ol>")
            .map_or(html.len(), |e| start + e)];
    let bytes = list.as_bytes();
    let is_code_char = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut codes = Vec::new();
    for i in 0..bytes.len().saturating_sub(11) {
        let window = &bytes[i..i + 11];
        if window[5] == b'-'
            && window[..5].iter().all(|b| is_code_char(*b))
            && window[6..].iter().all(|b| is_code_char(*b))
            && (i == 0 || !is_code_char(bytes[i - 1]))
        {
            codes.push(String::from_utf8_lossy(window).into_owned());
        }
    }
    codes
}

async fn settings_html(browser: &Browser) -> String {
    let page = browser.get("/settings").await;
    assert_eq!(page.status(), 200, "settings page");
    page.text().await.expect("html")
}

async fn two_factor_enrolment_and_two_step_sign_in(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let email = "ada@example.com";
    customer(db.db(), email, "Starter").await;
    let browser = Browser::new(&service);
    browser.sign_in_customer(email).await;
    assert!(
        settings_html(&browser)
            .await
            .contains("Set up two-factor sign-in")
    );

    let started = browser.post("/settings/two-factor/start", &[]).await;
    assert_eq!(location(&started), "/settings?notice=scan#two-factor");
    let account = store::accounts::by_email(db.db(), email)
        .await
        .unwrap()
        .unwrap();
    let secret = account.totp_secret.clone().expect("secret stored");
    assert!(!account.totp_enabled, "not on before a code confirms it");
    let html = settings_html(&browser).await;
    assert!(html.contains(&secret), "the key is shown for typing in");
    assert!(html.contains("<svg"), "the QR code is inline SVG");

    // A pending set-up does not change sign-in yet; a wrong code does not turn it on.
    let wrong = browser
        .post("/settings/two-factor/confirm", &[("code", "000000")])
        .await;
    assert_eq!(location(&wrong), "/settings?error=code#two-factor");
    let now = unix_now();
    let confirm_code = two_factor::code_at(&secret, now).unwrap();
    let confirmed = browser
        .post("/settings/two-factor/confirm", &[("code", &confirm_code)])
        .await;
    assert_eq!(
        location(&confirmed),
        "/settings?notice=two_factor_on#two-factor"
    );
    let codes = recovery_codes_in(&settings_html(&browser).await);
    assert_eq!(codes.len(), 10, "ten recovery codes shown: {codes:?}");
    assert!(
        recovery_codes_in(&settings_html(&browser).await).is_empty(),
        "and only once"
    );
    let stored = store::accounts::unused_recovery_codes(db.db(), account.id)
        .await
        .unwrap();
    assert_eq!(stored.len(), 10);
    assert!(
        stored.iter().all(|c| !codes.contains(&c.code_hash)),
        "stored hashed, never in the clear"
    );

    // Signing in now takes two steps.
    assert_eq!(browser.post("/logout", &[]).await.status(), 303);
    let password_ok = browser
        .post(
            "/login",
            &[("email", email), ("password", common::CUSTOMER_PASSWORD)],
        )
        .await;
    assert_eq!(location(&password_ok), "/login/code");
    assert_eq!(
        location(&browser.get("/usage").await),
        "/login",
        "not signed in yet"
    );
    // The code that confirmed the set-up was used already (same time step).
    let replay = browser
        .post("/login/code", &[("code", &confirm_code)])
        .await;
    assert_eq!(location(&replay), "/login/code?error=code");
    let next_step = two_factor::code_at(&secret, now + 30).unwrap();
    let signed_in = browser.post("/login/code", &[("code", &next_step)]).await;
    assert_eq!(location(&signed_in), "/");
    assert_eq!(browser.get("/usage").await.status(), 200);

    // A recovery code works once.
    browser.post("/logout", &[]).await;
    browser
        .post(
            "/login",
            &[("email", email), ("password", common::CUSTOMER_PASSWORD)],
        )
        .await;
    let recovered = browser
        .post("/login/code", &[("code", &codes[3].to_uppercase())])
        .await;
    assert_eq!(
        location(&recovered),
        "/",
        "recovery codes are case-insensitive"
    );
    browser.post("/logout", &[]).await;
    browser
        .post(
            "/login",
            &[("email", email), ("password", common::CUSTOMER_PASSWORD)],
        )
        .await;
    let reused = browser.post("/login/code", &[("code", &codes[3])]).await;
    assert_eq!(location(&reused), "/login/code?error=code", "used up");
    let kinds = activity_kinds(db.db(), email).await;
    for kind in ["two_factor.enabled", "sign_in.failed", "sign_in.succeeded"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    service.stop().await.expect("clean stop");
}
on_both_engines!(two_factor_enrolment_and_two_step_sign_in);

async fn two_factor_is_turned_off_only_with_a_code(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let email = "abe@example.com";
    customer(db.db(), email, "Starter").await;
    let account = store::accounts::by_email(db.db(), email)
        .await
        .unwrap()
        .unwrap();
    let secret = two_factor::new_secret();
    let codes = two_factor::new_recovery_codes();
    let digests: Vec<String> = codes
        .iter()
        .map(|c| two_factor::hash_recovery_code(c))
        .collect();
    let now = store::now_ms();
    store::accounts::set_totp(db.db(), account.id, Some(&secret), false, now)
        .await
        .unwrap();
    store::accounts::enable_totp(db.db(), account.id, &digests, now)
        .await
        .unwrap();

    let browser = Browser::new(&service);
    let password_ok = browser
        .post(
            "/login",
            &[("email", email), ("password", common::CUSTOMER_PASSWORD)],
        )
        .await;
    assert_eq!(location(&password_ok), "/login/code");
    let code = two_factor::code_at(&secret, unix_now()).unwrap();
    assert_eq!(
        location(&browser.post("/login/code", &[("code", &code)]).await),
        "/"
    );
    assert!(
        settings_html(&browser)
            .await
            .contains("10 of 10 recovery codes left")
    );

    let refused = browser
        .post("/settings/two-factor/disable", &[("code", "123456")])
        .await;
    assert_eq!(location(&refused), "/settings?error=code#two-factor");
    assert!(
        store::accounts::by_id(db.db(), account.id)
            .await
            .unwrap()
            .unwrap()
            .totp_enabled
    );
    let off = browser
        .post("/settings/two-factor/disable", &[("code", &codes[5])])
        .await;
    assert_eq!(location(&off), "/settings?notice=two_factor_off#two-factor");
    let account = store::accounts::by_id(db.db(), account.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!account.totp_enabled && account.totp_secret.is_none());
    assert!(
        store::accounts::unused_recovery_codes(db.db(), account.id)
            .await
            .unwrap()
            .is_empty()
    );

    // The password alone signs in again.
    browser.post("/logout", &[]).await;
    let signed_in = browser
        .post(
            "/login",
            &[("email", email), ("password", common::CUSTOMER_PASSWORD)],
        )
        .await;
    assert_eq!(location(&signed_in), "/");
    assert!(
        activity_kinds(db.db(), email)
            .await
            .iter()
            .any(|k| k == "two_factor.disabled")
    );
    service.stop().await.expect("clean stop");
}
on_both_engines!(two_factor_is_turned_off_only_with_a_code);

async fn password_change_and_sign_out_everywhere_else(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let email = "bea@example.com";
    customer(db.db(), email, "Starter").await;
    // Five sign-ins in all: the most a minute allows for one email.
    let (laptop, phone, tablet) = (
        Browser::new(&service),
        Browser::new(&service),
        Browser::new(&service),
    );
    laptop.sign_in_customer(email).await;
    phone.sign_in_customer(email).await;

    // A forged cross-site post changes nothing.
    let forged = laptop
        .post_from(
            "/settings/sessions/revoke",
            &[],
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(phone.get("/usage").await.status(), 200, "still signed in");

    let revoked = laptop.post("/settings/sessions/revoke", &[]).await;
    assert_eq!(
        location(&revoked),
        "/settings?notice=sessions_revoked#sessions"
    );
    assert_eq!(
        laptop.get("/usage").await.status(),
        200,
        "this session stays"
    );
    assert_eq!(location(&phone.get("/usage").await), "/login", "others end");

    phone.sign_in_customer(email).await;
    let wrong = laptop
        .post(
            "/settings/password",
            &[
                ("current_password", "not my password"),
                ("new_password", "x"),
            ],
        )
        .await;
    assert_eq!(
        location(&wrong),
        "/settings?error=current_password#password"
    );
    let weak = laptop
        .post(
            "/settings/password",
            &[
                ("current_password", common::CUSTOMER_PASSWORD),
                ("new_password", "password1234"),
            ],
        )
        .await;
    assert_eq!(location(&weak), "/settings?error=weak#password");
    let new_password = "maple-harbour-lantern-47";
    let changed = laptop
        .post(
            "/settings/password",
            &[
                ("current_password", common::CUSTOMER_PASSWORD),
                ("new_password", new_password),
            ],
        )
        .await;
    assert_eq!(
        location(&changed),
        "/settings?notice=password_changed#password"
    );
    assert_eq!(laptop.get("/usage").await.status(), 200);
    assert_eq!(location(&phone.get("/usage").await), "/login");

    let old = tablet
        .post(
            "/login",
            &[("email", email), ("password", common::CUSTOMER_PASSWORD)],
        )
        .await;
    assert_eq!(location(&old), "/login?error=credentials");
    let new = tablet
        .post("/login", &[("email", email), ("password", new_password)])
        .await;
    assert_eq!(location(&new), "/");

    let kinds = activity_kinds(db.db(), email).await;
    for kind in [
        "sessions.revoked",
        "password.changed",
        "password.change_failed",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    service.stop().await.expect("clean stop");
}
on_both_engines!(password_change_and_sign_out_everywhere_else);

async fn allowlist_is_validated_scoped_and_used_by_the_gateway(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    customer(db.db(), "cy@example.com", "Starter").await;
    customer(db.db(), "dee@example.com", "Starter").await;
    let cy = Browser::new(&service);
    cy.sign_in_customer("cy@example.com").await;
    let dee = Browser::new(&service);
    dee.sign_in_customer("dee@example.com").await;

    for (input, error) in [
        ("10.0.0.0/8", "too_wide"),
        ("::/0", "too_wide"),
        ("not-an-ip", "cidr"),
    ] {
        let refused = cy
            .post("/settings/allowlist", &[("cidr", input), ("note", "")])
            .await;
        assert_eq!(
            location(&refused),
            format!("/settings?error={error}#allowlist"),
            "{input}"
        );
    }

    // Without credentials the gateway wants a password…
    let origin = common::origin("allowed").await;
    let anonymous = proxied(&service, &origin, 407).await;
    assert_eq!(anonymous.0, 407, "{anonymous:?}");

    // …until the source address is on an allowlist.
    let added = cy
        .post(
            "/settings/allowlist",
            &[("cidr", "127.0.0.1"), ("note", "this machine")],
        )
        .await;
    assert_eq!(
        location(&added),
        "/settings?notice=allowlist_added#allowlist"
    );
    let html = settings_html(&cy).await;
    assert!(
        html.contains("127.0.0.1/32") && html.contains("this machine"),
        "listed"
    );
    let duplicate = cy
        .post("/settings/allowlist", &[("cidr", "127.0.0.1/32")])
        .await;
    assert_eq!(location(&duplicate), "/settings?error=duplicate#allowlist");
    let through = proxied(&service, &origin, 200).await;
    assert_eq!(through, (200, "allowed".to_owned()), "allowlisted source");

    // Another account cannot remove it: it does not exist for them.
    let cy_account = store::accounts::by_email(db.db(), "cy@example.com")
        .await
        .unwrap()
        .unwrap();
    let entry = store::credentials::allowlist(db.db(), cy_account.id)
        .await
        .unwrap()[0]
        .clone();
    let id = entry.id.get().to_string();
    let foreign = dee.post("/settings/allowlist/remove", &[("id", &id)]).await;
    assert_eq!(foreign.status(), 404);
    assert_eq!(
        store::credentials::allowlist(db.db(), cy_account.id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        !settings_html(&dee).await.contains("this machine"),
        "not shown to others"
    );

    let removed = cy.post("/settings/allowlist/remove", &[("id", &id)]).await;
    assert_eq!(
        location(&removed),
        "/settings?notice=allowlist_removed#allowlist"
    );
    assert_eq!(
        proxied(&service, &origin, 407).await.0,
        407,
        "password needed again"
    );

    let kinds = activity_kinds(db.db(), "cy@example.com").await;
    for kind in ["allowlist.added", "allowlist.removed"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    service.stop().await.expect("clean stop");
}
on_both_engines!(allowlist_is_validated_scoped_and_used_by_the_gateway);

/// A GET through the HTTP proxy without credentials: (status, body), once the status is
/// `want` or after five seconds (the gateway reloads accounts within a second of a change).
async fn proxied(service: &Service, origin: &std::net::SocketAddr, want: u16) -> (u16, String) {
    let client = reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(format!("http://{}", service.http_proxy)).expect("proxy"))
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("client");
    let mut last = (0, String::new());
    for _ in 0..20 {
        let response = client
            .get(format!("http://{origin}/"))
            .send()
            .await
            .expect("proxy");
        last = (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        );
        if last.0 == want {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    last
}

async fn administrators_see_everything_customers_get_403(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    customer(db.db(), "eve@example.com", "Starter").await;
    customer(db.db(), "root@example.com", "Starter").await;
    let root = store::accounts::by_email(db.db(), "root@example.com")
        .await
        .unwrap()
        .unwrap();
    store::accounts::set_role(
        db.db(),
        root.id,
        store::accounts::Role::Admin,
        store::now_ms(),
    )
    .await
    .unwrap();

    let eve = Browser::new(&service);
    eve.sign_in_customer("eve@example.com").await;
    let overview = eve.post("/api/admin/overview", &[]).await;
    assert_eq!(overview.status(), 403, "customers get no admin data");
    let body = overview.text().await.unwrap();
    assert!(!body.contains("root@example.com"), "{body}");
    let add = eve
        .post(
            "/admin/exits",
            &[("url", "http://127.0.0.1:9"), ("country", "ng")],
        )
        .await;
    assert_eq!(add.status(), 403);
    assert!(
        store::exits::list(db.db()).await.unwrap().is_empty(),
        "nothing added"
    );
    assert!(
        !eve.get("/settings")
            .await
            .text()
            .await
            .unwrap()
            .contains("id=\"admin-link\"")
    );

    let admin = Browser::new(&service);
    admin.sign_in_customer("root@example.com").await;
    let overview = admin.post("/api/admin/overview", &[]).await;
    assert_eq!(overview.status(), 200);
    let body = overview.text().await.unwrap();
    assert!(
        body.contains("eve@example.com") && body.contains("root@example.com"),
        "{body}"
    );
    let added = admin
        .post(
            "/admin/exits",
            &[
                ("url", "socks5://u:secret@127.0.0.1:1080"),
                ("country", "NG"),
                ("city", "lagos"),
                ("pool", ""),
            ],
        )
        .await;
    assert_eq!(location(&added), "/servers?notice=exit_added");
    let exits = store::exits::list(db.db()).await.unwrap();
    assert_eq!(exits.len(), 1);
    assert_eq!(
        (exits[0].country.as_str(), exits[0].pool.as_str()),
        ("ng", "default")
    );
    // Exits are managed on the Servers page: the upstream shows, its password never does.
    let page = admin.get("/servers").await.text().await.unwrap();
    assert!(
        page.contains("127.0.0.1:1080") && !page.contains("secret"),
        "password hidden"
    );
    let invalid = admin
        .post("/admin/exits", &[("url", "ftp://x"), ("country", "ng")])
        .await;
    assert_eq!(location(&invalid), "/servers?error=exit_invalid");

    let id = exits[0].id.get().to_string();
    let disabled = admin.post("/admin/exits/enabled", &[("id", &id)]).await;
    assert_eq!(location(&disabled), "/servers?notice=exit.disabled");
    assert!(!store::exits::list(db.db()).await.unwrap()[0].enabled);
    assert_eq!(
        eve.post("/admin/exits/remove", &[("id", &id)])
            .await
            .status(),
        403
    );
    let removed = admin.post("/admin/exits/remove", &[("id", &id)]).await;
    assert_eq!(location(&removed), "/servers?notice=exit_removed");
    assert_eq!(
        admin
            .post("/admin/exits/remove", &[("id", &id)])
            .await
            .status(),
        404
    );

    // A demotion takes effect at the next request, without signing out.
    store::accounts::set_role(
        db.db(),
        root.id,
        store::accounts::Role::Customer,
        store::now_ms(),
    )
    .await
    .unwrap();
    let demoted = admin.post("/api/admin/overview", &[]).await;
    assert_eq!(demoted.status(), 403);
    service.stop().await.expect("clean stop");
}
on_both_engines!(administrators_see_everything_customers_get_403);

fn header(response: &reqwest::Response, name: &str) -> Option<u64> {
    response.headers().get(name)?.to_str().ok()?.parse().ok()
}

async fn api_calls_are_limited_per_ip_and_per_plan(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let anonymous = Browser::new(&service);
    let mut remaining = Vec::new();
    for _ in 0..100 {
        let response = anonymous.post("/api/security", &[]).await;
        assert_eq!(
            response.status(),
            401,
            "anonymous callers are still answered"
        );
        assert_eq!(header(&response, "x-ratelimit-limit"), Some(100));
        assert!(header(&response, "x-ratelimit-reset").is_some_and(|s| s <= 60));
        remaining.push(header(&response, "x-ratelimit-remaining").expect("remaining"));
    }
    assert_eq!(remaining.first(), Some(&99));
    assert_eq!(remaining.last(), Some(&0));
    let limited = anonymous.post("/api/security", &[]).await;
    assert_eq!(limited.status(), 429);
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
    for n in 0..60 {
        let response = fay.post("/api/security", &[]).await;
        assert_eq!(response.status(), 200, "call {n}");
        assert_eq!(
            header(&response, "x-ratelimit-limit"),
            Some(60),
            "the tighter bucket"
        );
    }
    let limited = fay.post("/api/security", &[]).await;
    assert_eq!(limited.status(), 429);

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

async fn pages_carry_a_fresh_csp_nonce_on_every_inline_script(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let page = service.get("/login").await;
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .expect("a nonce in script-src")
            .to_owned();
        let html = page.text().await.unwrap();
        let scripts: Vec<&str> = html.split("<script").skip(1).collect();
        assert!(!scripts.is_empty(), "the page has scripts");
        for script in scripts {
            let tag = &script[..script.find('>').expect("tag end")];
            if !tag.contains("src=") {
                assert!(
                    tag.contains(&format!("nonce=\"{nonce}\"")),
                    "inline script without the nonce: <script{tag}>"
                );
            }
        }
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1], "a new nonce per response");
    let api = common::client()
        .post(format!("{}/api/security", service.base))
        .send()
        .await
        .unwrap();
    assert!(
        api.headers().contains_key("content-security-policy"),
        "on every response"
    );
    service.stop().await.expect("clean stop");
}
on_both_engines!(pages_carry_a_fresh_csp_nonce_on_every_inline_script);
