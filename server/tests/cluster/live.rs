//! Live statistics across the cluster: the web node's `/ws/live` counts what went through
//! every gateway.

use std::time::Duration;

use futures::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::common::{Browser, customer, location, session_cookie};
use crate::nodes::{Cluster, through, unpaced_starter};
use crate::origin;

#[tokio::test]
async fn the_web_node_shows_the_traffic_of_every_gateway() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let (user, pass) = customer(cluster.db.db(), "ada@example.com", "Starter").await;
    unpaced_starter(cluster.db.db()).await;
    let origin = origin::start().await;
    let (web, a, b) = cluster.web_and_two_gateways(&[]).await;
    let url = format!("http://{origin}/bytes/100");
    for (gateway, n) in [(a.http(), 7), (b.http(), 5)] {
        let client = through(gateway, &user, &pass);
        for _ in 0..n {
            assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
        }
    }
    let signed_in = Browser::at(&web.base)
        .post(
            "/login",
            &[
                ("email", "ada@example.com"),
                ("password", crate::common::CUSTOMER_PASSWORD),
            ],
        )
        .await;
    assert_eq!(location(&signed_in), "/");
    let cookie = session_cookie(&signed_in).unwrap();
    let mut request = format!("{}/ws/live", web.base.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("origin", web.base.parse().unwrap());
    request
        .headers_mut()
        .insert("cookie", cookie.split(';').next().unwrap().parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    // the gateways report every second; within a few frames both are counted
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut seen = 0;
    while seen < 12 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the web node counted {seen} of the 12 requests"
        );
        let message = tokio::time::timeout(Duration::from_secs(3), socket.next())
            .await
            .expect("a frame within 3 s")
            .expect("open")
            .unwrap();
        if let Message::Text(text) = message {
            let frame: serde_json::Value = serde_json::from_str(&text).unwrap();
            seen = frame["account"]["requests_total"].as_u64().unwrap();
        }
    }
    assert_eq!(seen, 12, "each request counted once");
    for node in [a, b, web] {
        node.stop().await;
    }
}
