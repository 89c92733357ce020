//! A running service with a database, and a client that speaks the API.

use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use store::AccountId;
use store::accounts::Role;
use store::api_tokens::Scope;

use crate::common::{self, Engine, Service, TestDb};

/// The service and its database.
pub struct Api {
    pub service: Service,
    pub db: TestDb,
    client: reqwest::Client,
}

impl Api {
    /// A service on a fresh database of `engine`; `None` when PostgreSQL is unreachable
    /// outside CI.
    pub async fn start(engine: Engine) -> Option<Api> {
        let db = TestDb::new(engine).await?;
        let service = Service::start(db.url()).await;
        Some(Api {
            service,
            db,
            client: common::client(),
        })
    }

    pub fn store(&self) -> &store::Db {
        self.db.db()
    }

    /// A customer with credentials and a Starter plan.
    pub async fn customer(&self, email: &str) -> AccountId {
        common::customer(self.store(), email, "Starter").await;
        self.account(email).await
    }

    /// An administrator (no plan).
    pub async fn admin(&self, email: &str) -> AccountId {
        let hash = store::accounts::hash_password(common::CUSTOMER_PASSWORD).expect("hash");
        store::accounts::create(self.store(), email, &hash, Role::Admin, store::now_ms())
            .await
            .expect("admin")
            .id
    }

    pub async fn account(&self, email: &str) -> AccountId {
        store::accounts::by_email(self.store(), email)
            .await
            .expect("query")
            .expect("account")
            .id
    }

    /// A token for `account`, straight from the store (Settings' server functions are
    /// tested in `tokens`).
    pub async fn token(&self, account: AccountId, scope: Scope) -> String {
        store::api_tokens::create(self.store(), account, "test", scope, None, store::now_ms())
            .await
            .expect("token")
            .1
    }

    /// A request with `token` (none: no `Authorization` at all).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.service.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// GET, expecting 200 and JSON.
    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        let response = self.get(path, token).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("json")
    }

    pub async fn stop(self) {
        self.service.stop().await.expect("clean stop");
        self.db.close().await;
    }
}

/// Asserts a problem response of `status` with `code` and returns its body.
pub async fn problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "{:?}", response.url().path());
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    if status == StatusCode::UNAUTHORIZED {
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(challenge.starts_with("Bearer"), "{challenge}");
    }
    let body: Value = response.json().await.expect("problem json");
    assert_eq!(body["type"], format!("urn:atlantic:problem:{code}"));
    assert_eq!(body["status"], status.as_u16());
    assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(body["detail"].as_str().is_some_and(|t| !t.is_empty()));
    body
}

/// A response header as text.
pub fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}
