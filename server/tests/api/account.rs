//! `GET /api/v1/account`, `GET /api/v1/credentials`, `POST /api/v1/credentials/regenerate`.

use reqwest::{Method, StatusCode};
use store::api_tokens::Scope;

use crate::common::{self, Engine};
use crate::support::Api;

async fn the_account_its_quota_and_its_credentials(engine: Engine) {
    let Some(api) = Api::start(engine).await else {
        return;
    };
    let ada = api.customer("ada@example.com").await;
    let token = api.token(ada, Scope::ReadWrite).await;
    let now = store::now_ms();
    let used = store::usage::UsageDelta {
        bytes_up: 1_000,
        bytes_down: 4_000,
        requests: 3,
        ..store::usage::UsageDelta::new(ada, now)
    };
    store::usage::record(api.store(), &[used]).await.unwrap();

    let account = api.get_json("/api/v1/account", &token).await;
    assert_eq!(account["id"], ada.get());
    assert_eq!(account["role"], "customer");
    assert_eq!(account["plan"]["name"], "Starter");
    let limit = account["plan"]["bandwidth_bytes"]
        .as_i64()
        .expect("Starter has a quota");
    assert_eq!(account["quota"]["used_bytes"], 5_000);
    assert_eq!(account["quota"]["limit_bytes"], limit);
    assert_eq!(account["quota"]["left_bytes"], limit - 5_000);
    let (start, end) = (
        account["period"]["start_ms"].as_i64().unwrap(),
        account["period"]["end_ms"].as_i64().unwrap(),
    );
    assert!(start <= now && now < end, "{start} {now} {end}");

    // The same credentials the dashboard shows; regenerating replaces the password.
    let creds = api.get_json("/api/v1/credentials", &token).await;
    let stored = store::credentials::by_account(api.store(), ada)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(creds["username"], stored.username.as_str());
    assert_eq!(creds["password"], stored.secret.as_str());
    assert_eq!(
        creds["http_proxy"],
        format!("127.0.0.1:{}", api.service.http_proxy.port())
    );
    let regenerated = api
        .call(
            Method::POST,
            "/api/v1/credentials/regenerate",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(regenerated.status(), StatusCode::OK);
    let regenerated: serde_json::Value = regenerated.json().await.unwrap();
    assert_eq!(regenerated["username"], creds["username"]);
    assert_ne!(regenerated["password"], creds["password"]);
    assert_eq!(
        api.get_json("/api/v1/credentials", &token).await["password"],
        regenerated["password"]
    );
    let kinds = common::activity_kinds(api.store(), "ada@example.com").await;
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("credentials.regenerated")
    );

    // Without a plan: no plan, period or quota.
    let bob = api.admin("bob@example.com").await;
    let bob_token = api.token(bob, Scope::Read).await;
    let bob_account = api.get_json("/api/v1/account", &bob_token).await;
    assert_eq!(bob_account["role"], "admin");
    assert!(bob_account["plan"].is_null() && bob_account["quota"].is_null());
    api.stop().await;
}
on_both_engines!(the_account_its_quota_and_its_credentials);
