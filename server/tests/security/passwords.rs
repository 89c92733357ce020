//! Password work under load: argon2 checks past the cap are refused with `503` and
//! `Retry-After` instead of queueing, and an over-long email is refused before it is used.

use std::time::Duration;

use argon2::PasswordHasher;
use argon2::{Algorithm, Argon2, Params, Version};

use crate::common::{self, Browser, Engine, Service, TestDb, customer, location};

/// A valid argon2id hash of `password` that takes about a second to check (64 MiB, 10
/// passes): a sign-in to its account holds a password slot long enough to observe.
fn slow_hash(password: &str) -> String {
    let params = Params::new(64 * 1024, 10, 1, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes())
        .unwrap()
        .to_string()
}

async fn sign_in_past_the_password_slots_is_503_with_retry_after(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start_with(
        db.url(),
        &[
            ("ATLANTIC_PASSWORD_HASH_CONCURRENCY", "1"),
            // Each attempt below comes from its own forwarded address, so the per-IP sign-in
            // limits do not get in the way.
            ("ATLANTIC_TRUSTED_PROXIES", "127.0.0.1"),
        ],
    )
    .await;
    customer(db.db(), "fast@example.com", "Starter").await;
    let slow_hash = tokio::task::spawn_blocking(|| slow_hash(common::CUSTOMER_PASSWORD))
        .await
        .unwrap();
    store::accounts::create(
        db.db(),
        "slow@example.com",
        &slow_hash,
        store::accounts::Role::Customer,
        store::now_ms(),
    )
    .await
    .unwrap();

    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let sign_in = |email: &'static str, from: String| {
        let client = client.clone();
        let url = format!("{}/login", service.base);
        let origin = service.base.clone();
        async move {
            client
                .post(url)
                .header("origin", origin)
                .header("x-forwarded-for", from)
                .form(&[("email", email), ("password", common::CUSTOMER_PASSWORD)])
                .send()
                .await
                .unwrap()
        }
    };
    let slow = tokio::spawn(sign_in("slow@example.com", "198.51.100.1".into()));
    let mut refused = None;
    for n in 2..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let response = sign_in("fast@example.com", format!("198.51.100.{n}")).await;
        if response.status() == 503 {
            refused = Some(response);
            break;
        }
        assert!(!slow.is_finished(), "the slow check ended before a refusal");
    }
    let refused = refused.expect("a sign-in while the only slot is busy is refused");
    assert_eq!(
        refused
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let slow = slow.await.unwrap();
    assert_eq!(
        (slow.status().as_u16(), location(&slow).as_str()),
        (303, "/"),
        "the slow sign-in itself went through"
    );
    let again = sign_in("fast@example.com", "198.51.100.200".into()).await;
    assert_eq!(location(&again), "/", "a free slot: served again");
    service.stop().await.expect("clean stop");
}
on_both_engines!(sign_in_past_the_password_slots_is_503_with_retry_after);

async fn an_email_over_254_bytes_is_refused_before_use(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let browser = Browser::new(&service);
    let huge = format!("{}@example.com", "a".repeat(10 * 1024));
    let form = [
        ("email", huge.as_str()),
        ("password", "a long enough password"),
    ];
    let signed_in = browser.post("/login", &form).await;
    assert_eq!(location(&signed_in), "/login?error=email");
    let page = browser
        .get("/login?error=email")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("at most 254 characters"), "{page}");
    let registered = browser.post("/register", &form).await;
    assert_eq!(location(&registered), "/register?error=email");
    let page = browser
        .get("/register?error=email")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("at most 254 characters"), "{page}");
    // The longest allowed still goes through to the usual answer.
    let longest = format!("{}@example.com", "a".repeat(254 - "@example.com".len()));
    let form = [("email", longest.as_str()), ("password", "wrong password")];
    assert_eq!(
        location(&browser.post("/login", &form).await),
        "/login?error=credentials"
    );
    service.stop().await.expect("clean stop");
}
on_both_engines!(an_email_over_254_bytes_is_refused_before_use);
