//! `GET /api/v1/admin/exits` and `/admin/nodes`: an administrator's token sees the Servers
//! page's data (upstreams without credentials); a customer's gets 403 (see `auth`).

use store::api_tokens::Scope;

use crate::common::Engine;
use crate::support::Api;

async fn an_administrator_sees_exits_and_nodes(engine: Engine) {
    let Some(api) = Api::start(engine).await else {
        return;
    };
    let root = api.admin("root@example.com").await;
    let token = api.token(root, Scope::Read).await;
    let exit = store::exits::NewExit {
        name: Some("Lagos one"),
        city: Some("lagos"),
        ..store::exits::NewExit::new("socks5://user:hunter22@198.51.100.9:1080", "NG")
    };
    store::exits::add(api.store(), &exit, store::now_ms())
        .await
        .unwrap();

    let exits = api.get_json("/api/v1/admin/exits", &token).await;
    let listed = exits["exits"].as_array().unwrap();
    let lagos = listed
        .iter()
        .find(|e| e["name"] == "Lagos one")
        .expect("the exit is listed");
    assert_eq!(lagos["country"], "ng");
    assert_eq!(lagos["city"], "lagos");
    assert_eq!(lagos["enabled"], true);
    let upstream = lagos["upstream"].as_str().unwrap();
    assert!(upstream.contains("198.51.100.9:1080"), "{upstream}");
    assert!(!exits.to_string().contains("hunter22"), "{exits}");

    // One process: no cluster.
    let nodes = api.get_json("/api/v1/admin/nodes", &token).await;
    assert_eq!(nodes["cluster"], false);
    assert_eq!(nodes["nodes"], serde_json::json!([]));
    api.stop().await;
}
on_both_engines!(an_administrator_sees_exits_and_nodes);
