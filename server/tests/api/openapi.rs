//! The OpenAPI document: served without a token at `/api/v1/openapi.json`, describing every
//! route, and equal to the committed `docs/openapi.json`. After changing the API, rewrite
//! the file with `UPDATE_OPENAPI=1 cargo test -p server --test api openapi` and commit it.

use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{Engine, Service, TestDb};

fn committed() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_matches_the_committed_one() {
    let db = TestDb::new(Engine::Sqlite).await.expect("sqlite");
    let service = Service::start(db.url()).await;
    let response = service.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/json"
    );
    let served = response.text().await.unwrap();
    service.stop().await.expect("clean stop");

    let doc: Value = serde_json::from_str(&served).expect("JSON");
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for path in [
        "/api/v1/account",
        "/api/v1/credentials",
        "/api/v1/credentials/regenerate",
        "/api/v1/allowlist",
        "/api/v1/allowlist/{id}",
        "/api/v1/activity",
        "/api/v1/usage",
        "/api/v1/usage/countries",
        "/api/v1/usage/sessions",
        "/api/v1/admin/exits",
        "/api/v1/admin/nodes",
    ] {
        assert!(paths.contains(&path), "{path} is not in {paths:?}");
    }
    let allowlist = &doc["paths"]["/api/v1/allowlist"];
    assert!(allowlist["get"].is_object() && allowlist["post"].is_object());
    assert!(doc["components"]["securitySchemes"]["token"].is_object());

    let file = committed();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&file, &served).expect("write docs/openapi.json");
        return;
    }
    let on_disk = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        on_disk == served,
        "docs/openapi.json differs from the document the service serves: after changing the \
         API, run `UPDATE_OPENAPI=1 cargo test -p server --test api openapi` and commit \
         docs/openapi.json"
    );
}
