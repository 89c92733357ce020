//! Settings › API tokens through its server functions: a token is made with its value shown
//! once, listed without it, used, and revoked; each an activity event without the value.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{self, Browser, Engine};
use crate::support::{Api, problem};

async fn settings_make_list_and_revoke_tokens(engine: Engine) {
    let Some(api) = Api::start(engine).await else {
        return;
    };
    api.customer("ada@example.com").await;
    api.customer("bob@example.com").await;
    let ada = Browser::new(&api.service);
    ada.sign_in_customer("ada@example.com").await;

    let made = ada
        .post(
            "/api/tokens/create",
            &[
                ("name", "deploy script"),
                ("scope", "read_write"),
                ("expires_in_days", "30"),
            ],
        )
        .await;
    assert_eq!(made.status(), StatusCode::OK);
    let made: Value = made.json().await.unwrap();
    let value = made["value"].as_str().unwrap().to_owned();
    assert!(value.starts_with("atl_") && value.len() == 68, "{value}");
    assert_eq!(made["token"]["scope"], "read_write");
    assert!(made["token"]["expires"].is_string());
    let id = made["token"]["id"].as_i64().unwrap();

    // Listed without the value; the value works.
    let listed = ada.post("/api/tokens", &[]).await.text().await.unwrap();
    assert!(listed.contains("deploy script"), "{listed}");
    assert!(
        !listed.contains(&value[4..]),
        "the list shows the value: {listed}"
    );
    assert_eq!(
        api.get_json("/api/v1/account", &value).await["email"],
        "ada@example.com"
    );

    // Settings lists it, with its last four characters only.
    let settings = ada.get("/settings").await.text().await.unwrap();
    assert!(
        settings.contains("API tokens"),
        "the section is on the page"
    );
    assert!(settings.contains("deploy script"), "the token is listed");
    assert!(settings.contains(&value[value.len() - 4..]));
    assert!(
        !settings.contains(&value[4..]),
        "Settings shows the value again"
    );

    // Refused input.
    for form in [
        [("name", ""), ("scope", "read"), ("expires_in_days", "")],
        [("name", "x"), ("scope", "admin"), ("expires_in_days", "")],
        [("name", "x"), ("scope", "read"), ("expires_in_days", "0")],
        [("name", "x"), ("scope", "read"), ("expires_in_days", "366")],
    ] {
        let response = ada.post("/api/tokens/create", &form).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{form:?}"
        );
    }

    // Bob cannot revoke Ada's token: 404, and it still works.
    let bob = Browser::new(&api.service);
    bob.sign_in_customer("bob@example.com").await;
    let id_text = id.to_string();
    let theirs = bob.post("/api/tokens/revoke", &[("id", &id_text)]).await;
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        api.get("/api/v1/account", &value).await.status(),
        StatusCode::OK
    );

    // Revoked from Settings: refused at once.
    let revoked = ada.post("/api/tokens/revoke", &[("id", &id_text)]).await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let refused = api.get("/api/v1/account", &value).await;
    problem(refused, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let listed = ada.post("/api/tokens", &[]).await.text().await.unwrap();
    assert!(!listed.contains("deploy script"), "{listed}");

    let kinds = common::activity_kinds(api.store(), "ada@example.com").await;
    assert_eq!(
        kinds[..3],
        ["api_token.revoked", "api_token.used", "api_token.created"]
    );
    // The activity page's text: no value anywhere.
    let page = ada
        .post("/api/activity", &[("filter", "all"), ("page", "1")])
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("API token created"), "{page}");
    assert!(!page.contains(&value[4..]));
    api.stop().await;
}
on_both_engines!(settings_make_list_and_revoke_tokens);
