//! The node registry and change notices against a real Redis.

use std::time::Duration;

use cluster::Change;
use cluster::test_support::{TestRedis, gateway_report};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn nodes_are_listed_up_then_down_then_forgotten() {
    let Some(redis) = TestRedis::new().await else {
        return;
    };
    let (a, b) = (redis.node("gw-a").await, redis.node("gw-b").await);
    let now = 10_000_000_i64;
    a.report(&gateway_report("gw-a", now))
        .await
        .expect("report");
    b.report(&gateway_report("gw-b", now - 6_000))
        .await
        .expect("report");
    let nodes = a.nodes(now).await.expect("list");
    let seen: Vec<(&str, bool)> = nodes
        .iter()
        .map(|n| (n.report.node.as_str(), n.up))
        .collect();
    assert_eq!(seen, [("gw-a", true), ("gw-b", false)]);
    assert_eq!(nodes[0].report, gateway_report("gw-a", now));
    // an hour later b is forgotten; a stopping on purpose leaves at once
    let later = now - 6_000 + 3_600_001;
    a.report(&gateway_report("gw-a", later))
        .await
        .expect("report");
    let nodes = a.nodes(later).await.expect("list");
    assert_eq!(nodes.len(), 1);
    a.deregister().await.expect("deregister");
    assert!(b.nodes(later).await.expect("list").is_empty());
}

#[tokio::test]
async fn a_change_notice_reaches_every_listener() {
    let Some(redis) = TestRedis::new().await else {
        return;
    };
    let web = redis.node("web").await;
    let stop = CancellationToken::new();
    let mut receivers = Vec::new();
    for node in ["gw-a", "gw-b"] {
        let gateway = redis.node(node).await;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let stop = stop.clone();
        tokio::spawn(async move {
            gateway
                .follow_changes(stop, move |change| {
                    let _ = tx.send(change);
                })
                .await;
        });
        receivers.push(rx);
    }
    // subscriptions take a moment: publish until both heard one
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    for rx in &mut receivers {
        loop {
            web.publish(Change::Directory).await.expect("publish");
            match tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
                Ok(Some(change)) => {
                    assert_eq!(change, Change::Directory);
                    break;
                }
                _ => assert!(tokio::time::Instant::now() < deadline, "no notice in 5 s"),
            }
        }
    }
    stop.cancel();
}
