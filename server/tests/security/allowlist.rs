//! The gateway IP allowlist: validated, scoped to its account, and used by the gateway.

use crate::common::{self, Browser, Engine, Service, TestDb, activity_kinds, customer, location};
use crate::settings_html;

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
