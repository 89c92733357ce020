//! `/metrics` labels stay bounded whatever methods and paths clients invent.

use std::collections::BTreeSet;

use crate::common::{self, Engine, Service, TestDb};

/// The `method="…"` label values of `http_requests_total` in a Prometheus text page.
fn method_labels(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|line| line.starts_with("http_requests_total{"))
        .filter_map(|line| {
            let start = line.find("method=\"")? + "method=\"".len();
            let end = start + line[start..].find('"')?;
            Some(line[start..end].to_string())
        })
        .collect()
}

async fn made_up_methods_share_one_metrics_label(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let client = common::client();
    for n in 0..50 {
        let token = format!("M{n}X{}", rand_suffix());
        let method = reqwest::Method::from_bytes(token.as_bytes()).expect("a method token");
        let response = client
            .request(method, format!("{}/health/{token}", service.base))
            .send()
            .await
            .expect("answered");
        assert!(response.status().is_client_error(), "{}", response.status());
    }
    let text = service.get("/metrics").await.text().await.expect("text");
    let labels = method_labels(&text);
    let allowed = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "other",
    ];
    assert!(labels.contains("other"), "{labels:?}");
    assert!(
        labels.iter().all(|l| allowed.contains(&l.as_str())),
        "unbounded method labels: {labels:?}"
    );
    assert!(
        !text.contains("/health/M"),
        "a raw path became a route label"
    );
    service.stop().await.expect("clean stop");
}
on_both_engines!(made_up_methods_share_one_metrics_label);

fn rand_suffix() -> u32 {
    use rand::Rng;
    rand::rng().random()
}
