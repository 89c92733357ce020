//! A Starter account's limits held across two gateway processes: its requests per second,
//! its 50 connections, its quota, and a credential change made on the web node.

use std::time::Duration;

use crate::clients::tunnel;
use crate::common::{Browser, customer};
use crate::nodes::{Cluster, through, unpaced_starter};
use crate::origin;

#[tokio::test]
async fn a_plan_rate_is_one_rate_across_the_gateways() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let (user, pass) = customer(cluster.db.db(), "ada@example.com", "Starter").await;
    let origin = origin::start().await;
    let (web, a, b) = cluster.web_and_two_gateways(&[]).await;
    let clients = [
        through(a.http(), &user, &pass),
        through(b.http(), &user, &pass),
    ];
    let url = format!("http://{origin}/bytes/10");
    // 40 requests a second for five seconds, alternating gateways (Starter: 10 a second)
    let started = tokio::time::Instant::now();
    let mut accepted = 0u32;
    for n in 0..200u32 {
        tokio::time::sleep_until(started + Duration::from_millis(25) * n).await;
        let response = clients[(n % 2) as usize].get(&url).send().await.unwrap();
        match response.status().as_u16() {
            200 => accepted += 1,
            429 => assert!(response.headers().contains_key("retry-after")),
            other => panic!("request {n}: status {other}"),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    // past the burst of 10, the rate the cluster let through
    let rate = f64::from(accepted.saturating_sub(10)) / elapsed;
    assert!(
        (8.5..=11.5).contains(&rate),
        "{accepted} accepted in {elapsed:.2} s: {rate:.2} a second, not 10 ± 15 %"
    );
    for node in [a, b, web] {
        node.stop().await;
    }
}

#[tokio::test]
async fn fifty_connections_on_one_gateway_leave_none_on_the_other() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let (user, pass) = customer(cluster.db.db(), "ada@example.com", "Starter").await;
    unpaced_starter(cluster.db.db()).await;
    let origin = origin::start().await;
    let (web, a, b) = cluster.web_and_two_gateways(&[]).await;
    let mut open = Vec::new();
    for n in 0..50 {
        let (stream, status) = tunnel(a.http(), origin, &user, &pass).await;
        assert_eq!(status, 200, "tunnel {n}");
        open.push(stream);
    }
    let (_, status) = tunnel(b.http(), origin, &user, &pass).await;
    assert_eq!(status, 429, "the 51st, on the other gateway");
    let (_, status) = tunnel(a.http(), origin, &user, &pass).await;
    assert_eq!(status, 429, "the 51st, on the same gateway");
    drop(open);
    for node in [a, b, web] {
        node.stop().await;
    }
}

#[tokio::test]
async fn a_quota_is_one_quota_across_the_gateways() {
    if let Some(cluster) = Cluster::new().await {
        one_quota_across_the_gateways(cluster).await;
    }
}

#[tokio::test]
async fn a_quota_is_one_quota_across_the_gateways_on_a_redis_cluster() {
    if let Some(cluster) = Cluster::on_redis_cluster().await {
        one_quota_across_the_gateways(cluster).await;
    }
}

async fn one_quota_across_the_gateways(cluster: Cluster) {
    let quota: u64 = 10_000_000;
    let (user, pass) = customer(cluster.db.db(), "ada@example.com", "Starter").await;
    unpaced_starter(cluster.db.db()).await;
    sqlx::query("UPDATE plans SET bandwidth_bytes = $1 WHERE name = 'Starter'")
        .bind(quota as i64)
        .execute(cluster.db.db().pool())
        .await
        .unwrap();
    let origin = origin::start().await;
    let (web, a, b) = cluster.web_and_two_gateways(&[]).await;
    // two clients per gateway at once, each 100 kB every 100 ms: about 4 MB/s in all
    let url = format!("http://{origin}/bytes/100000");
    let started = tokio::time::Instant::now();
    let mut clients = Vec::new();
    for gateway in [a.http(), b.http(), a.http(), b.http()] {
        let client = through(gateway, &user, &pass);
        let url = url.clone();
        clients.push(tokio::spawn(async move {
            let mut delivered = 0u64;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            loop {
                assert!(tokio::time::Instant::now() < deadline, "never refused");
                let response = client.get(&url).send().await.unwrap();
                if response.status() == 402 {
                    return delivered;
                }
                assert_eq!(response.status(), 200);
                delivered += response.bytes().await.map_or(0, |b| b.len() as u64);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }
    let mut delivered = 0;
    for c in clients {
        delivered += c.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let per_second = delivered as f64 / elapsed;
    assert!(
        delivered as f64 <= quota as f64 + per_second,
        "{delivered} bytes delivered for a quota of {quota} ({per_second:.0} B/s)"
    );
    assert!(delivered >= quota, "refused early: {delivered} of {quota}");
    for gateway in [a.http(), b.http()] {
        let r = through(gateway, &user, &pass)
            .get(&url)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 402, "both gateways refuse");
    }
    for node in [a, b, web] {
        node.stop().await;
    }
}

#[tokio::test]
async fn new_credentials_reach_every_gateway_within_a_second() {
    if let Some(cluster) = Cluster::new().await {
        new_credentials_reach_every_gateway(cluster).await;
    }
}

#[tokio::test]
async fn new_credentials_reach_every_gateway_within_a_second_on_a_redis_cluster() {
    if let Some(cluster) = Cluster::on_redis_cluster().await {
        new_credentials_reach_every_gateway(cluster).await;
    }
}

async fn new_credentials_reach_every_gateway(cluster: Cluster) {
    let (user, pass) = customer(cluster.db.db(), "ada@example.com", "Starter").await;
    let origin = origin::start().await;
    let (web, a, b) = cluster.web_and_two_gateways(&[]).await;
    let url = format!("http://{origin}/bytes/10");
    for gateway in [a.http(), b.http()] {
        let r = through(gateway, &user, &pass)
            .get(&url)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let browser = Browser::at(&web.base);
    browser.sign_in_customer("ada@example.com").await;
    let regenerated = browser.post("/api/credentials/regenerate", &[]).await;
    assert_eq!(regenerated.status(), 200, "{:?}", regenerated.text().await);
    let changed = tokio::time::Instant::now();
    until_every_gateway(&[a.http(), b.http()], changed, &user, &pass, &url, 407).await;
    for node in [a, b, web] {
        node.stop().await;
    }
}

#[tokio::test]
async fn a_customer_added_on_the_command_line_reaches_every_gateway_within_a_second() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let origin = origin::start().await;
    let (web, a, b) = cluster.web_and_two_gateways(&[]).await;
    let added = tokio::process::Command::new(env!("CARGO_BIN_EXE_atlantic"))
        .args([
            "user",
            "add",
            "--email",
            "cli@example.com",
            "--plan",
            "Starter",
        ])
        .args(["--password", crate::common::CUSTOMER_PASSWORD])
        .env("DATABASE_URL", cluster.db.url())
        .env("ATLANTIC_REDIS_URL", cluster.redis.url())
        .env("ATLANTIC_CLUSTER_NAME", cluster.redis.name())
        .output()
        .await
        .unwrap();
    assert!(added.status.success(), "{added:?}");
    let changed = tokio::time::Instant::now();
    let out = String::from_utf8(added.stdout).unwrap();
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .unwrap()
            .to_owned()
    };
    let (user, pass) = (field("proxy_username="), field("proxy_password="));
    let url = format!("http://{origin}/bytes/10");
    until_every_gateway(&[a.http(), b.http()], changed, &user, &pass, &url, 200).await;
    for node in [a, b, web] {
        node.stop().await;
    }
}

/// Asks every gateway (a fresh client each time: no kept-alive connection admitted before the
/// change) until each answers `status`, failing once a second has passed since `changed`.
async fn until_every_gateway(
    gateways: &[std::net::SocketAddr],
    changed: tokio::time::Instant,
    user: &str,
    pass: &str,
    url: &str,
    status: u16,
) {
    for &gateway in gateways {
        loop {
            let r = through(gateway, user, pass).get(url).send().await.unwrap();
            if r.status() == status {
                break;
            }
            assert!(
                changed.elapsed() < Duration::from_secs(1),
                "{gateway} still answers {} a second after the change",
                r.status()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
