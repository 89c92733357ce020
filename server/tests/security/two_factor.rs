//! Two-factor sign-in: enrolment with TOTP, the two-step sign-in, recovery codes, and turning
//! it off only with a code.

use crate::common::{self, Browser, Engine, Service, TestDb, activity_kinds, customer, location};
use crate::{recovery_codes_in, settings_html, unix_now};
use server::{recovery_codes, totp};

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
    let confirm_code = totp::code_at(&secret, now).unwrap();
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
    let next_step = totp::code_at(&secret, now + 30).unwrap();
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
    let secret = totp::new_secret();
    let codes = recovery_codes::generate();
    let digests: Vec<String> = codes.iter().map(|c| recovery_codes::digest(c)).collect();
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
    let code = totp::code_at(&secret, unix_now()).unwrap();
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

/// Posts until the rate limits let the request through (waiting out `Retry-After`).
/// Posts `form`; while the limits answer 429, moves their clock past `Retry-After` and posts
/// again.
async fn post_past_limits(
    service: &Service,
    browser: &Browser,
    path: &str,
    form: &[(&str, &str)],
) -> String {
    loop {
        let response = browser.post(path, form).await;
        if response.status() != 429 {
            return location(&response);
        }
        let wait: u64 = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("429 with Retry-After");
        service.advance_limits(std::time::Duration::from_secs(wait));
    }
}

async fn ten_wrong_codes_end_the_half_signed_in_state(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let email = "ada@example.com";
    customer(db.db(), email, "Starter").await;
    let browser = Browser::new(&service);
    browser.sign_in_customer(email).await;
    browser.post("/settings/two-factor/start", &[]).await;
    let account = store::accounts::by_email(db.db(), email)
        .await
        .unwrap()
        .unwrap();
    let secret = account.totp_secret.clone().expect("secret stored");
    let code = totp::code_at(&secret, unix_now()).unwrap();
    let confirmed = browser
        .post("/settings/two-factor/confirm", &[("code", &code)])
        .await;
    assert_eq!(
        location(&confirmed),
        "/settings?notice=two_factor_on#two-factor"
    );
    assert_eq!(browser.post("/logout", &[]).await.status(), 303);
    let password = [("email", email), ("password", common::CUSTOMER_PASSWORD)];
    assert_eq!(
        post_past_limits(&service, &browser, "/login", &password).await,
        "/login/code"
    );

    // The limits allow five codes a minute (their clock is moved past each wait); the tenth
    // wrong one ends the attempt.
    for n in 1..10 {
        let wrong =
            post_past_limits(&service, &browser, "/login/code", &[("code", "000000")]).await;
        assert_eq!(wrong, "/login/code?error=code", "wrong code {n}");
    }
    let tenth = post_past_limits(&service, &browser, "/login/code", &[("code", "000000")]).await;
    assert_eq!(tenth, "/login?error=attempts");
    let page = browser
        .get("/login?error=attempts")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Start again with your password"), "{page}");

    // The right code no longer signs in: the password is needed again.
    let code = totp::code_at(&secret, unix_now()).unwrap();
    let right = post_past_limits(&service, &browser, "/login/code", &[("code", &code)]).await;
    assert_eq!(right, "/login?error=expired");
    assert_eq!(location(&browser.get("/usage").await), "/login");
    let kinds = activity_kinds(db.db(), email).await;
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("sign_in.second_factor_abandoned"),
        "{kinds:?}"
    );
    service.stop().await.expect("clean stop");
}
on_both_engines!(ten_wrong_codes_end_the_half_signed_in_state);
