//! `GET /api/v1/activity`: a cursor walks every event once; a token's use is logged at most
//! once an hour, and its value never.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::json;
use store::activity::NewActivity;
use store::api_tokens::Scope;

use crate::common::Engine;
use crate::support::{Api, problem};

async fn the_cursor_walks_all_activity_and_no_token_value_is_logged(engine: Engine) {
    let Some(api) = Api::start(engine).await else {
        return;
    };
    let ada = api.customer("ada@example.com").await;
    let bob = api.customer("bob@example.com").await;
    let now = store::now_ms();
    for n in 0..23 {
        let event = NewActivity {
            detail: json!({ "n": n }),
            ..NewActivity::new(Some(ada), "test.event")
        };
        // Some in the same millisecond: the cursor must still not skip or repeat them.
        store::activity::record(api.store(), &event, now - 60_000 + n / 3)
            .await
            .unwrap();
    }
    store::activity::record(api.store(), &NewActivity::new(Some(bob), "test.bob"), now)
        .await
        .unwrap();
    let token = api.token(ada, Scope::Read).await;

    let mut ids = Vec::new();
    let mut path = "/api/v1/activity?limit=5".to_owned();
    let mut pages = 0;
    loop {
        let page = api.get_json(&path, &token).await;
        pages += 1;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 5);
        for item in items {
            assert_ne!(item["kind"], "test.bob", "another account's event");
            ids.push(item["id"].as_i64().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/activity?limit=5&cursor={cursor}"),
            None => break,
        }
    }
    // 23 events and the token's first use, newest first, each once.
    assert_eq!(ids.len(), 24, "{ids:?}");
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 24);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    assert_eq!(pages, 5);

    // Every call above used the token: one `api_token.used`, and nowhere its value.
    let all = store::activity::list(
        api.store(),
        ada,
        store::activity::KindFilter::ALL,
        store::Page::first(100),
    )
    .await
    .unwrap();
    let used: Vec<_> = all.iter().filter(|a| a.kind == "api_token.used").collect();
    assert_eq!(used.len(), 1);
    let secret = &token[4..];
    for event in &all {
        let text = format!("{event:?} {}", event.detail);
        assert!(!text.contains(secret), "{text}");
    }
    let first = api.get_json("/api/v1/activity?limit=200", &token).await;
    assert!(!first.to_string().contains(secret));
    assert_eq!(first["items"][0]["kind"], "api_token.used");
    assert_eq!(first["items"][0]["title"], "API token used");
    assert!(first["next_cursor"].is_null());

    for bad in ["limit=0", "limit=201", "cursor=%21%21", "limit=x"] {
        let response = api.get(&format!("/api/v1/activity?{bad}"), &token).await;
        let status = response.status();
        let code = if status == StatusCode::BAD_REQUEST {
            "bad_request"
        } else {
            "invalid_input"
        };
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {status}"
        );
        problem(response, status, code).await;
    }
    api.stop().await;
}
on_both_engines!(the_cursor_walks_all_activity_and_no_token_value_is_logged);
