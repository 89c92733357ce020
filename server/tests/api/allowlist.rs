//! `GET`/`POST /api/v1/allowlist`, `DELETE /api/v1/allowlist/{id}`: the dashboard's checks,
//! and another account's entry is 404.

use reqwest::{Method, StatusCode};
use serde_json::json;
use store::api_tokens::Scope;

use crate::common::{self, Engine};
use crate::support::{Api, problem};

async fn entries_are_added_checked_and_removed_per_account(engine: Engine) {
    let Some(api) = Api::start(engine).await else {
        return;
    };
    let ada = api.customer("ada@example.com").await;
    let bob = api.customer("bob@example.com").await;
    let ada_token = api.token(ada, Scope::ReadWrite).await;
    let bob_token = api.token(bob, Scope::ReadWrite).await;
    let post = |token: String, body: serde_json::Value| {
        let api = &api;
        async move {
            api.call(Method::POST, "/api/v1/allowlist", Some(&token), Some(body))
                .await
        }
    };

    let added = post(
        ada_token.clone(),
        json!({"cidr": "203.0.113.7", "note": " office "}),
    )
    .await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let added: serde_json::Value = added.json().await.unwrap();
    assert_eq!(added["cidr"], "203.0.113.7/32");
    assert_eq!(added["note"], "office");
    let id = added["id"].as_i64().unwrap();
    let listed = api.get_json("/api/v1/allowlist", &ada_token).await;
    assert_eq!(listed["entries"][0]["id"], id);
    assert_eq!(
        common::activity_kinds(api.store(), "ada@example.com").await[0],
        "allowlist.added"
    );

    // The checks Settings makes.
    for (body, status, code) in [
        (
            json!({"cidr": "example.com"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            json!({"cidr": "10.0.0.1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            json!({"cidr": "198.51.0.0/16"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            json!({"cidr": "198.51.100.1", "note": "x".repeat(101)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            json!({"cidr": 7}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            json!({"cidr": "203.0.113.7/32"}),
            StatusCode::CONFLICT,
            "conflict",
        ),
    ] {
        let response = post(ada_token.clone(), body.clone()).await;
        problem(response, status, code).await;
    }
    let not_json = reqwest::Client::new()
        .post(format!("{}/api/v1/allowlist", api.service.base))
        .bearer_auth(&ada_token)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    problem(not_json, StatusCode::BAD_REQUEST, "bad_request").await;
    // Bob cannot claim Ada's network either, and is not told whose it is.
    let claimed = post(bob_token.clone(), json!({"cidr": "203.0.113.7"})).await;
    let body = problem(claimed, StatusCode::CONFLICT, "conflict").await;
    assert!(!body["detail"].as_str().unwrap().contains("ada"));

    // Bob's token on Ada's entry: 404, exactly like an id that does not exist.
    let path = format!("/api/v1/allowlist/{id}");
    let idor = api
        .call(Method::DELETE, &path, Some(&bob_token), None)
        .await;
    let idor = problem(idor, StatusCode::NOT_FOUND, "not_found").await;
    let unknown = api
        .call(
            Method::DELETE,
            "/api/v1/allowlist/999999",
            Some(&bob_token),
            None,
        )
        .await;
    assert_eq!(
        problem(unknown, StatusCode::NOT_FOUND, "not_found").await,
        idor
    );
    let junk = api
        .call(
            Method::DELETE,
            "/api/v1/allowlist/abc",
            Some(&bob_token),
            None,
        )
        .await;
    problem(junk, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(
        api.get_json("/api/v1/allowlist", &ada_token).await["entries"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    let removed = api
        .call(Method::DELETE, &path, Some(&ada_token), None)
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        api.get_json("/api/v1/allowlist", &ada_token).await["entries"],
        json!([])
    );
    let again = api
        .call(Method::DELETE, &path, Some(&ada_token), None)
        .await;
    problem(again, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(
        common::activity_kinds(api.store(), "ada@example.com").await[0],
        "allowlist.removed"
    );
    api.stop().await;
}
on_both_engines!(entries_are_added_checked_and_removed_per_account);
