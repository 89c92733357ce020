//! Who gets in: a bearer token and nothing else; revocation and expiry apply at once; a read
//! token cannot write and a customer's token is not an administrator's.

use reqwest::{Method, StatusCode};
use serde_json::json;
use store::api_tokens::Scope;

use crate::common::{Browser, Engine};
use crate::support::{Api, header, problem};

async fn only_an_active_token_gets_in(engine: Engine) {
    let Some(api) = Api::start(engine).await else {
        return;
    };
    let ada = api.customer("ada@example.com").await;
    let token = api.token(ada, Scope::Read).await;

    // No token, a malformed one, an unknown one, another scheme.
    let none = api.call(Method::GET, "/api/v1/account", None, None).await;
    problem(none, StatusCode::UNAUTHORIZED, "unauthorized").await;
    for wrong in ["nope", "atl_", &format!("atl_{}", "0".repeat(64))] {
        let response = api.get("/api/v1/account", wrong).await;
        problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let basic = reqwest::Client::new()
        .get(format!("{}/api/v1/account", api.service.base))
        .basic_auth("ada@example.com", Some(crate::common::CUSTOMER_PASSWORD))
        .send()
        .await
        .expect("request");
    problem(basic, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // A signed-in browser's session cookie alone is not a credential here, for reads and
    // writes alike (so there is nothing for a cross-site request to ride on).
    let browser = Browser::new(&api.service);
    browser.sign_in_customer("ada@example.com").await;
    let cookie_only = browser.get("/api/v1/account").await;
    problem(cookie_only, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let cookie_write = browser.post("/api/v1/credentials/regenerate", &[]).await;
    problem(cookie_write, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // The token works, with the rate-limit headers and nothing cached.
    let response = api.get("/api/v1/account", &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    let limit: u32 = header(&response, "x-ratelimit-limit")
        .unwrap()
        .parse()
        .unwrap();
    let remaining: u32 = header(&response, "x-ratelimit-remaining")
        .unwrap()
        .parse()
        .unwrap();
    assert!(remaining < limit, "{remaining} of {limit}");
    assert!(header(&response, "x-ratelimit-reset").is_some());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["email"], "ada@example.com");

    // Revoked: refused on the very next request.
    let id = store::api_tokens::list(api.store(), ada).await.unwrap()[0].id;
    store::api_tokens::revoke(api.store(), ada, id, store::now_ms())
        .await
        .unwrap();
    let revoked = api.get("/api/v1/account", &token).await;
    problem(revoked, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // Expired: made with an expiry that has passed.
    let now = store::now_ms();
    let (_, expired) =
        store::api_tokens::create(api.store(), ada, "old", Scope::Read, Some(now - 1), now - 2)
            .await
            .unwrap();
    let response = api.get("/api/v1/account", &expired).await;
    problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // Unknown routes and methods under the prefix are problems too.
    let fresh = api.token(ada, Scope::Read).await;
    let missing = api.get("/api/v1/nothing/here", &fresh).await;
    problem(missing, StatusCode::NOT_FOUND, "not_found").await;
    let method = api
        .call(Method::PUT, "/api/v1/account", Some(&fresh), None)
        .await;
    problem(method, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    api.stop().await;
}
on_both_engines!(only_an_active_token_gets_in);

async fn scopes_and_roles_are_enforced(engine: Engine) {
    let Some(api) = Api::start(engine).await else {
        return;
    };
    let ada = api.customer("ada@example.com").await;
    let read = api.token(ada, Scope::Read).await;
    let write = api.token(ada, Scope::ReadWrite).await;

    // A read token on every write route: 403, and nothing changed.
    let before = api.get_json("/api/v1/credentials", &read).await;
    for (method, path, body) in [
        (Method::POST, "/api/v1/credentials/regenerate", None),
        (
            Method::POST,
            "/api/v1/allowlist",
            Some(json!({"cidr": "203.0.113.7"})),
        ),
        (Method::DELETE, "/api/v1/allowlist/1", None),
    ] {
        let response = api.call(method, path, Some(&read), body).await;
        problem(response, StatusCode::FORBIDDEN, "insufficient_scope").await;
    }
    assert_eq!(api.get_json("/api/v1/credentials", &read).await, before);
    let allowlist = api.get_json("/api/v1/allowlist", &read).await;
    assert_eq!(allowlist["entries"], json!([]));

    // A customer's tokens, of either scope, are not an administrator's.
    for token in [&read, &write] {
        for path in ["/api/v1/admin/exits", "/api/v1/admin/nodes"] {
            let response = api.get(path, token).await;
            problem(response, StatusCode::FORBIDDEN, "forbidden").await;
        }
    }
    api.stop().await;
}
on_both_engines!(scopes_and_roles_are_enforced);
