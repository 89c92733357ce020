//! `GET /api/v1/docs`: the API reference rendered from the OpenAPI document, without a token,
//! listing every operation of the document, and loading nothing from another origin (no
//! script at all; its one stylesheet is ours, as the Content-Security-Policy demands).

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{Engine, Service, TestDb};

/// Every `<tag …>` of `page` for `name` (`script`, `link`, `img`).
fn tags<'a>(page: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}");
    let lower = page.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find(&open) {
        let start = from + at;
        let end = lower[start..]
            .find('>')
            .map_or(page.len(), |e| start + e + 1);
        found.push(&page[start..end]);
        from = end;
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_lists_every_operation_and_loads_nothing_from_elsewhere() {
    let db = TestDb::new(Engine::Sqlite).await.expect("sqlite");
    let service = Service::start(db.url()).await;
    let doc: Value = service
        .get("/api/v1/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    let response = service.get("/api/v1/docs").await;
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert!(header("content-type").starts_with("text/html"));
    let csp = header("content-security-policy");
    assert!(csp.contains("style-src 'self'"), "{csp}");
    let page = response.text().await.unwrap();

    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            operations += 1;
            let heading = format!("{}</span> <code>{path}</code>", method.to_uppercase());
            assert!(
                page.contains(&heading),
                "{method} {path} is not on the page"
            );
            let id = operation["operationId"].as_str().unwrap();
            assert!(page.contains(&format!("id=\"op-{id}\"")), "{id}");
            if let Some(summary) = operation["summary"].as_str() {
                let first = summary.split('`').next().unwrap().trim_end();
                let escaped = first
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
                    .replace('"', "&quot;")
                    .replace('\'', "&#39;");
                assert!(page.contains(&escaped), "{summary}");
            }
        }
    }
    assert!(operations >= 12, "{operations}");
    assert_eq!(
        page.matches("<pre><code>curl ").count(),
        operations,
        "a curl example per operation"
    );
    for schema in doc["components"]["schemas"].as_object().unwrap().keys() {
        assert!(
            page.contains(&format!("id=\"schema-{schema}\"")),
            "{schema}"
        );
    }
    // The fields of a response schema and a request body, with their descriptions.
    assert!(page.contains("<code>left_bytes</code>"));
    assert!(page.contains("<code>cidr</code>"));

    // Nothing from elsewhere, and nothing the policy would refuse.
    assert!(tags(&page, "script").is_empty(), "no script at all");
    for name in ["script", "link", "img", "iframe"] {
        for tag in tags(&page, name) {
            let lower = tag.to_ascii_lowercase();
            assert!(
                !lower.contains("http://") && !lower.contains("https://") && !lower.contains("//"),
                "{tag}"
            );
        }
    }
    assert!(
        !page.contains("<style"),
        "inline styles are refused by the policy"
    );
    assert!(
        !page.contains(" style="),
        "inline styles are refused by the policy"
    );
    let links = tags(&page, "link");
    assert_eq!(links.len(), 1, "{links:?}");
    let href = links[0]
        .split("href=\"")
        .nth(1)
        .and_then(|h| h.split('"').next())
        .unwrap();
    assert!(href.starts_with('/'), "{href}");
    let css = service.get(href).await;
    assert_eq!(css.status(), StatusCode::OK);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(css.text().await.unwrap().contains(".operation"));
    service.stop().await.expect("clean stop");
}
