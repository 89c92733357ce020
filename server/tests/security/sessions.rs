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

/// The session table of each engine (tower-sessions-sqlx-store's names, made by our
/// migrations): its schema prefix and its name.
fn session_table(engine: Engine) -> (&'static str, &'static str) {
    match engine {
        Engine::Sqlite => ("", "tower_sessions"),
        Engine::Postgres => ("tower_sessions.", "session"),
    }
}

/// The stored expiry of every session, as the store keeps it (as text on both engines).
async fn session_expiries(db: &store::Db, engine: Engine) -> Vec<String> {
    let (schema, table) = session_table(engine);
    let sql = format!("SELECT CAST(expiry_date AS TEXT) FROM {schema}{table} ORDER BY id");
    sqlx::query_scalar::<_, String>(&sql)
        .fetch_all(db.pool())
        .await
        .expect("read the sessions")
}

/// Renames the session table out of the store's reach (`away`), or back.
async fn move_session_table(db: &store::Db, engine: Engine, away: bool) {
    let (schema, table) = session_table(engine);
    let moved = format!("{table}_away");
    let (from, to) = if away {
        (table, moved.as_str())
    } else {
        (moved.as_str(), table)
    };
    sqlx::query(&format!("ALTER TABLE {schema}{from} RENAME TO {to}"))
        .execute(db.pool())
        .await
        .expect("rename the session table");
}

async fn an_unreadable_session_answers_503_and_keeps_the_sign_in(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let email = "noor@example.com";
    customer(db.db(), email, "Starter").await;
    let browser = Browser::new(&service);
    browser.sign_in_customer(email).await;

    // Page views within the keep-alive period read the session and write nothing.
    let after_sign_in = session_expiries(db.db(), engine).await;
    assert_eq!(after_sign_in.len(), 1, "{after_sign_in:?}");
    for page in ["/usage", "/servers", "/settings"] {
        assert_eq!(browser.get(page).await.status(), 200, "{page}");
        assert_eq!(
            session_expiries(db.db(), engine).await,
            after_sign_in,
            "a view of {page} does not commit the session again"
        );
    }

    // The session store cannot answer: a clear 503, not a trip to /login.
    move_session_table(db.db(), engine, true).await;
    let page = browser.get("/usage").await;
    assert_eq!(page.status(), 503, "{:?}", page.headers());
    assert_eq!(page.headers()["retry-after"], "5");
    assert!(page.headers().get("location").is_none());
    let body = page.text().await.unwrap();
    assert!(body.contains("briefly unavailable"), "{body}");

    // Once it answers again, the same browser is still signed in.
    move_session_table(db.db(), engine, false).await;
    assert_eq!(browser.get("/usage").await.status(), 200, "still signed in");
    service.stop().await.expect("clean stop");
}
on_both_engines!(an_unreadable_session_answers_503_and_keeps_the_sign_in);
