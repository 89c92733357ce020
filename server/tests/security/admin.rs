//! The administrator's pages: administrators see everything, customers get 403.

use crate::common::{Browser, Engine, Service, TestDb, customer, location};

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
    // Customers see the exit's name, country and health, never its address.
    let name = format!("NG #{}", exits[0].id.get());
    let seen = eve.get("/servers").await.text().await.unwrap();
    assert!(
        seen.contains(&name) && !seen.contains("127.0.0.1") && !seen.contains(":1080"),
        "{seen}"
    );
    let named = admin
        .post(
            "/admin/exits",
            &[
                ("url", "http://127.0.0.1:3128"),
                ("country", "gh"),
                ("name", "Accra fibre"),
                ("forward_names", "1"),
            ],
        )
        .await;
    assert_eq!(location(&named), "/servers?notice=exit_added");
    let accra = store::exits::list(db.db())
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.country == "gh")
        .expect("added");
    assert_eq!(
        (accra.name.as_str(), accra.forward_names),
        ("Accra fibre", true)
    );
    store::exits::remove(db.db(), accra.id).await.unwrap();
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
