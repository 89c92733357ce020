//! The gateway IP allowlist: validated, scoped to its account, and used by the gateway; an
//! address belongs to one account (administrators settle disputes), only public sources
//! unless the operator allows private ones, and adding asks for the password or a code again.

use crate::common::CUSTOMER_PASSWORD;
use crate::common::{self, Browser, Engine, Service, TestDb, activity_kinds, customer, location};
use crate::{settings_html, unix_now};
use server::totp;

/// The test client's own address (loopback) has to be allowed to test the gateway with it.
const PRIVATE_SOURCES: [(&str, &str); 1] = [("ATLANTIC_ALLOW_PRIVATE_SOURCES", "1")];

async fn allowlist_is_validated_scoped_and_used_by_the_gateway(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start_with(db.url(), &PRIVATE_SOURCES).await;
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
            &[
                ("cidr", "127.0.0.1"),
                ("note", "this machine"),
                ("current_password", CUSTOMER_PASSWORD),
            ],
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
        .post(
            "/settings/allowlist",
            &[
                ("cidr", "127.0.0.1/32"),
                ("current_password", CUSTOMER_PASSWORD),
            ],
        )
        .await;
    assert_eq!(location(&duplicate), "/settings?error=duplicate#allowlist");
    let through = proxied(&service, &origin, 200).await;
    assert_eq!(through, (200, "allowed".to_owned()), "allowlisted source");

    // Another account cannot remove it: it does not exist for them.
    let cy_account = store::accounts::by_email(db.db(), "cy@example.com")
        .await
        .unwrap()
        .unwrap();
    let entry = store::allowlist::for_account(db.db(), cy_account.id)
        .await
        .unwrap()[0]
        .clone();
    let id = entry.id.get().to_string();
    let foreign = dee.post("/settings/allowlist/remove", &[("id", &id)]).await;
    assert_eq!(foreign.status(), 404);
    assert_eq!(
        store::allowlist::for_account(db.db(), cy_account.id)
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

/// Adds `cidr` to the signed-in account's allowlist, re-authenticating with `proof` (a
/// `current_password` or `code` field); returns where the server sends the browser.
async fn add(browser: &Browser, cidr: &str, proof: (&str, &str)) -> String {
    location(
        &browser
            .post(
                "/settings/allowlist",
                &[("cidr", cidr), ("note", ""), proof],
            )
            .await,
    )
}

fn password() -> (&'static str, &'static str) {
    ("current_password", CUSTOMER_PASSWORD)
}

async fn cidrs_of(db: &store::Db, email: &str) -> Vec<String> {
    let account = store::accounts::by_email(db, email).await.unwrap().unwrap();
    store::allowlist::for_account(db, account.id)
        .await
        .unwrap()
        .iter()
        .map(|e| e.cidr.to_string())
        .collect()
}

async fn an_address_belongs_to_one_account_and_admins_settle_disputes(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    customer(db.db(), "cy@example.com", "Starter").await;
    customer(db.db(), "dee@example.com", "Starter").await;
    customer(db.db(), "root@example.com", "Starter").await;
    let root_account = store::accounts::by_email(db.db(), "root@example.com")
        .await
        .unwrap()
        .unwrap();
    let admin_role = store::accounts::Role::Admin;
    store::accounts::set_role(db.db(), root_account.id, admin_role, store::now_ms())
        .await
        .unwrap();
    let cy = Browser::new(&service);
    cy.sign_in_customer("cy@example.com").await;
    let dee = Browser::new(&service);
    dee.sign_in_customer("dee@example.com").await;

    assert_eq!(
        add(&cy, "203.0.113.0/24", password()).await,
        "/settings?notice=allowlist_added#allowlist"
    );
    // A free account cannot take (or deny) cy's credential-less traffic with a narrower entry.
    assert_eq!(
        add(&dee, "203.0.113.7", password()).await,
        "/settings?error=claimed#allowlist"
    );
    assert!(cidrs_of(db.db(), "dee@example.com").await.is_empty());
    let refused_page = dee
        .get("/settings?error=claimed")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        refused_page.contains("another account") && !refused_page.contains("cy@example.com"),
        "the reason, without the owner"
    );

    // A customer cannot remove another account's entry through the admin form.
    let entry_id = {
        let cy_account = store::accounts::by_email(db.db(), "cy@example.com")
            .await
            .unwrap()
            .unwrap();
        store::allowlist::for_account(db.db(), cy_account.id)
            .await
            .unwrap()[0]
            .id
            .get()
            .to_string()
    };
    let forbidden = dee
        .post("/admin/allowlist/remove", &[("id", &entry_id)])
        .await;
    assert_eq!(forbidden.status(), 403);
    assert_eq!(
        cidrs_of(db.db(), "cy@example.com").await,
        ["203.0.113.0/24"]
    );

    // The administrator sees whose entry it is and removes it.
    let root = Browser::new(&service);
    root.sign_in_customer("root@example.com").await;
    let admin_page = root.get("/admin").await.text().await.unwrap();
    assert!(
        admin_page.contains("id=\"allowlists\"")
            && admin_page.contains("203.0.113.0/24")
            && admin_page.contains("cy@example.com"),
        "the admin page lists every entry with its owner"
    );
    let removed = root
        .post("/admin/allowlist/remove", &[("id", &entry_id)])
        .await;
    assert_eq!(
        location(&removed),
        "/admin?notice=allowlist_removed#allowlists"
    );
    assert!(cidrs_of(db.db(), "cy@example.com").await.is_empty());
    let again = root
        .post("/admin/allowlist/remove", &[("id", &entry_id)])
        .await;
    assert_eq!(again.status(), 404);
    assert!(
        activity_kinds(db.db(), "cy@example.com")
            .await
            .iter()
            .any(|k| k == "allowlist.removed"),
        "the owner's activity shows the removal"
    );
    assert!(
        activity_kinds(db.db(), "root@example.com")
            .await
            .iter()
            .any(|k| k == "admin.allowlist_removed")
    );

    assert_eq!(
        add(&dee, "203.0.113.7", password()).await,
        "/settings?notice=allowlist_added#allowlist",
        "free once the dispute is settled"
    );
    service.stop().await.expect("clean stop");
}
on_both_engines!(an_address_belongs_to_one_account_and_admins_settle_disputes);

async fn only_public_sources_unless_the_operator_allows_private_ones(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    customer(db.db(), "cy@example.com", "Starter").await;
    let cy = Browser::new(&service);
    cy.sign_in_customer("cy@example.com").await;
    for private in [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.0/24",
        "100.64.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fd00::/48",
        "fe80::1",
        "::ffff:203.0.113.7",
    ] {
        assert_eq!(
            add(&cy, private, password()).await,
            "/settings?error=not_public#allowlist",
            "{private}"
        );
    }
    assert!(cidrs_of(db.db(), "cy@example.com").await.is_empty());
    let explained = cy
        .get("/settings?error=not_public")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        explained.contains("Only public addresses"),
        "the reason is shown"
    );
    assert_eq!(
        add(&cy, "203.0.113.7", password()).await,
        "/settings?notice=allowlist_added#allowlist"
    );
    service.stop().await.expect("clean stop");

    let private = Service::start_with(db.url(), &PRIVATE_SOURCES).await;
    let cy = Browser::new(&private);
    cy.sign_in_customer("cy@example.com").await;
    assert_eq!(
        add(&cy, "10.1.2.3", password()).await,
        "/settings?notice=allowlist_added#allowlist",
        "ATLANTIC_ALLOW_PRIVATE_SOURCES=1"
    );
    assert_eq!(
        cidrs_of(db.db(), "cy@example.com").await,
        ["203.0.113.7/32", "10.1.2.3/32"]
    );
    private.stop().await.expect("clean stop");
}
on_both_engines!(only_public_sources_unless_the_operator_allows_private_ones);

async fn adding_an_entry_asks_for_the_password_or_a_code_again(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    customer(db.db(), "cy@example.com", "Starter").await;
    let cy = Browser::new(&service);
    cy.sign_in_customer("cy@example.com").await;
    let html = settings_html(&cy).await;
    assert!(
        html.contains("name=\"current_password\"") && html.contains("id=\"allow-password\""),
        "the plain HTML form carries the password field"
    );
    for wrong in [
        ("current_password", ""),
        ("current_password", "not my password"),
    ] {
        assert_eq!(
            add(&cy, "203.0.113.7", wrong).await,
            "/settings?error=current_password#allowlist",
            "{wrong:?}"
        );
    }
    assert!(cidrs_of(db.db(), "cy@example.com").await.is_empty());
    let kinds = activity_kinds(db.db(), "cy@example.com").await;
    assert!(
        kinds
            .iter()
            .filter(|k| *k == "allowlist.reauth_failed")
            .count()
            == 2,
        "{kinds:?}"
    );
    assert_eq!(
        add(&cy, "203.0.113.7", password()).await,
        "/settings?notice=allowlist_added#allowlist"
    );
    service.stop().await.expect("clean stop");

    // With two-factor sign-in on, the proof is a current code; the password is not enough.
    // A fresh service: the re-authentication budget is per client address and minute.
    let service = Service::start(db.url()).await;
    let cy = Browser::new(&service);
    cy.sign_in_customer("cy@example.com").await;
    let account = store::accounts::by_email(db.db(), "cy@example.com")
        .await
        .unwrap()
        .unwrap();
    let secret = totp::new_secret();
    let now = store::now_ms();
    store::accounts::set_totp(db.db(), account.id, Some(&secret), false, now)
        .await
        .unwrap();
    store::accounts::enable_totp(db.db(), account.id, &["unused".to_owned()], now)
        .await
        .unwrap();
    let html = settings_html(&cy).await;
    assert!(
        html.contains("id=\"allow-code\"") && !html.contains("id=\"allow-password\""),
        "the form asks for a code"
    );
    assert_eq!(
        add(&cy, "198.51.100.7", password()).await,
        "/settings?error=code#allowlist"
    );
    assert_eq!(
        add(&cy, "198.51.100.7", ("code", "000000")).await,
        "/settings?error=code#allowlist"
    );
    let code = totp::code_at(&secret, unix_now()).unwrap();
    assert_eq!(
        add(&cy, "198.51.100.7", ("code", &code)).await,
        "/settings?notice=allowlist_added#allowlist"
    );
    assert_eq!(
        cidrs_of(db.db(), "cy@example.com").await,
        ["203.0.113.7/32", "198.51.100.7/32"]
    );
    let kinds = activity_kinds(db.db(), "cy@example.com").await;
    assert!(
        kinds
            .iter()
            .filter(|k| *k == "allowlist.reauth_failed")
            .count()
            == 4,
        "{kinds:?}"
    );
    service.stop().await.expect("clean stop");
}
on_both_engines!(adding_an_entry_asks_for_the_password_or_a_code_again);

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
        // a connection let in under an allowlist entry that was just removed is closed by the
        // gateway's reload, possibly mid-request: poll again
        let Ok(response) = client.get(format!("http://{origin}/")).send().await else {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            continue;
        };
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
