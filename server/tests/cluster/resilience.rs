//! A gateway killed with SIGKILL in the middle of traffic: the other keeps serving, the dead
//! node's connection slots come free when its leases lapse, and the Servers page shows it down.
//! And a gateway stopped with SIGTERM leaves the registry at once and lets its tunnels finish.

use std::time::Duration;

use crate::common::{Browser, customer};
use crate::nodes::{Cluster, through, unpaced_starter};
use crate::origin;

#[tokio::test]
async fn a_killed_gateway_leaves_the_other_serving_and_its_slots_lapse() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let (user, pass) = customer(cluster.db.db(), "ada@example.com", "Starter").await;
    unpaced_starter(cluster.db.db()).await;
    let hash = store::accounts::hash_password(crate::common::CUSTOMER_PASSWORD).unwrap();
    store::accounts::create(
        cluster.db.db(),
        "root@example.com",
        &hash,
        store::accounts::Role::Admin,
        store::now_ms(),
    )
    .await
    .unwrap();
    let origin = origin::start().await;
    let lease = [("ATLANTIC_CONNECTION_LEASE_SECS", "3")];
    let web = cluster.start("web", "web", &lease).await;
    let a = cluster.start("gateway", "gw-a", &lease).await;
    let mut b = cluster.start("gateway", "gw-b", &lease).await;
    // b holds 40 of the 50 connections
    let mut held = Vec::new();
    for _ in 0..40 {
        let (stream, status) = crate::clients::tunnel(b.http(), origin, &user, &pass).await;
        assert_eq!(status, 200);
        held.push(stream);
    }
    let url = format!("http://{origin}/bytes/1000");
    let client = through(a.http(), &user, &pass);
    let traffic = tokio::spawn(async move {
        let mut served = 0u32;
        for _ in 0..60 {
            let r = client.get(&url).send().await.unwrap();
            assert_eq!(r.status(), 200, "a keeps serving");
            served += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        served
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    b.kill().await;
    drop(held);
    assert_eq!(traffic.await.unwrap(), 60);

    // once b's leases lapse, a may open all 50 (a's own client holds one kept-alive)
    let mut open = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while open.len() < 49 {
        let (stream, status) = crate::clients::tunnel(a.http(), origin, &user, &pass).await;
        if status == 200 {
            open.push(stream);
        } else {
            assert_eq!(status, 429);
            assert!(
                tokio::time::Instant::now() < deadline,
                "the dead node's slots never came free ({} open)",
                open.len()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // the Servers page shows b down (no report for five seconds)
    let admin = Browser::at(&web.base);
    admin.sign_in_customer("root@example.com").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let page = admin.get("/servers").await.text().await.unwrap();
        if page.contains(r#"id="node-gw-b" data-health="down""#) {
            assert!(
                page.contains(r#"id="node-gw-a" data-health="up""#),
                "{page}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gw-b never shown down"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(open);
    for node in [a, web] {
        node.stop().await;
    }
}

#[tokio::test]
async fn a_gateway_stopped_gracefully_leaves_the_registry_and_finishes_its_requests() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let (user, pass) = customer(cluster.db.db(), "ada@example.com", "Starter").await;
    unpaced_starter(cluster.db.db()).await;
    let origin = origin::start().await;
    let a = cluster.start("gateway", "gw-a", &[]).await;
    let probe = cluster.redis.node("probe").await;
    let listed = |nodes: Vec<cluster::NodeStatus>| nodes.iter().any(|n| n.report.node == "gw-a");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !listed(probe.nodes(store::now_ms()).await.unwrap()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gw-a never registered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // its operator endpoints: probes and metrics, with the cluster's state; no dashboard
    let client = crate::common::client();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = client
            .get(format!("{}/metrics", a.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("atlantic_proxy_cluster_up 1") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let login = client
        .get(format!("{}/login", a.base))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 404, "a gateway node serves no dashboard");
    // a tunnel is open while the node is told to stop: it still works during the drain
    let (mut tunnel, status) = crate::clients::tunnel(a.http(), origin, &user, &pass).await;
    assert_eq!(status, 200);
    let stopping = tokio::spawn(a.stop());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !listed(probe.nodes(store::now_ms()).await.unwrap()),
        "left the registry at once"
    );
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tunnel
        .write_all(b"GET /bytes/5 HTTP/1.1\r\nHost: o\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![0u8; 64];
    let n = tunnel.read(&mut answer).await.unwrap();
    assert!(
        String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"),
        "the open tunnel still relays during the drain"
    );
    drop(tunnel);
    stopping.await.unwrap();
}
