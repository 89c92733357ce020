//! The test double served alone on port 0, behind a layer that records every call's request
//! and response bodies, with a webhook receiver standing in for our service.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::post;
use hmac::{Hmac, Mac};
use serde_json::Value;
use server::paystack_double::{Double, MOUNT};
use sha2::Sha512;
use url::Url;

/// One call to the double.
#[derive(Clone, Debug)]
pub struct Call {
    pub path: String,
    pub request: Value,
    pub status: u16,
    pub response: Value,
}

#[derive(Clone, Default)]
struct Log {
    calls: Arc<Mutex<Vec<Call>>>,
    /// Each delivery, with whether its signature was right.
    webhooks: Arc<Mutex<Vec<(bool, Value)>>>,
}

/// The running double.
pub struct Recorded {
    /// The API base to give our client.
    pub api: Url,
    /// A browser on the double's checkout pages (no redirects followed).
    pub browser: reqwest::Client,
    key: String,
    log: Log,
}

/// Starts the double with `key`; its webhooks come back to the recorder, signed.
pub async fn start(key: &str) -> Recorded {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let api = base.join("paystack-double/").unwrap();
    let double = Double::new(key, api.clone(), base.join("hook").unwrap());
    let log = Log::default();
    let app = Router::new()
        .nest_service(MOUNT, double.router())
        .layer(axum::middleware::from_fn_with_state(log.clone(), record))
        .merge(
            Router::new()
                .route("/hook", post(hook))
                .with_state((log.clone(), key.to_owned())),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Recorded {
        api,
        browser: reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        key: key.to_owned(),
        log,
    }
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

async fn record(State(log): State<Log>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, 1 << 20).await.unwrap();
    let request_json = json_of(&bytes);
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, 1 << 20).await.unwrap();
    log.calls.lock().unwrap().push(Call {
        path,
        request: request_json,
        status: parts.status.as_u16(),
        response: json_of(&bytes),
    });
    Response::from_parts(parts, Body::from(bytes))
}

/// Keeps a webhook, and whether its signature is what our service checks for.
async fn hook(
    State((log, key)): State<(Log, String)>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> &'static str {
    let mut mac = Hmac::<Sha512>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(&body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let signature = headers
        .get("x-paystack-signature")
        .and_then(|v| v.to_str().ok());
    let signed = signature == Some(expected.as_str());
    log.webhooks.lock().unwrap().push((signed, json_of(&body)));
    "ok"
}

impl Recorded {
    /// The latest call whose path contains `path`.
    pub fn last(&self, path: &str) -> Call {
        self.log
            .calls
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|c| c.path.contains(path))
            .cloned()
            .unwrap_or_else(|| panic!("no call to {path}"))
    }

    /// The first webhook about `reference` (a charge, or a refund of it), once it arrived.
    pub async fn webhook(&self, reference: &str) -> Value {
        let deadline = tokio::time::Instant::now() + crate::WEBHOOK_WAIT;
        loop {
            let found = self
                .log
                .webhooks
                .lock()
                .unwrap()
                .iter()
                .find(|(_, w)| {
                    w["data"]["reference"] == reference
                        || w["data"]["transaction_reference"] == reference
                })
                .cloned();
            if let Some((signed, found)) = found {
                assert!(signed, "the webhook is signed as Paystack signs");
                return found;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no webhook for {reference}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Asks the double to decline the next charge.
    pub async fn decline_next_charge(&self) {
        let answer = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(self.api.join("test/decline_next_charge").unwrap())
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
}
