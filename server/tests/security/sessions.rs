//! Password change, and signing out every other session.

use crate::common::{self, Browser, Engine, Service, TestDb, activity_kinds, customer, location};

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
