//! Requests per second, connection caps and quotas, held across two gateways.

use std::time::Duration;

use cluster::test_support::TestRedis;

use crate::support::{MemDirectory, Origin, account, bounded, connect_tunnel, proxied_get};
use crate::{node, plan, ready, sync_round};

#[tokio::test]
async fn two_gateways_share_one_requests_per_second_bucket() {
    if let Some(redis) = TestRedis::new().await {
        share_one_requests_per_second_bucket(redis).await;
    }
}

#[tokio::test]
async fn two_gateways_share_one_requests_per_second_bucket_on_a_redis_cluster() {
    if let Some(redis) = TestRedis::on_redis_cluster().await {
        share_one_requests_per_second_bucket(redis).await;
    }
}

async fn share_one_requests_per_second_bucket(redis: TestRedis) {
    bounded(30, async {
        let origin = Origin::start().await;
        let dir = MemDirectory::new(vec![account(1, "ada", "pw", Some(plan(10, 100, None)))], vec![]);
        let a = node(&dir, redis.node("a").await).await;
        let b = node(&dir, redis.node("b").await).await;
        ready(&[&a, &b]).await;
        // 40 requests a second for three seconds, split evenly: alone, each node would let
        // 10 a second (and a burst of 10) through, 80 in all
        let url = origin.url("/bytes/10");
        let started = tokio::time::Instant::now();
        let mut accepted = 0;
        let mut refused = 0;
        for n in 0..120u32 {
            tokio::time::sleep_until(started + Duration::from_millis(25) * n).await;
            let gateway = if n % 2 == 0 { a.http } else { b.http };
            let response = proxied_get(gateway, &url, Some(("ada", "pw"))).await;
            match response.status {
                200 => accepted += 1,
                429 => {
                    assert_eq!(response.error_code(), Some("rate_limited"));
                    assert!(response.header("retry-after").is_some());
                    refused += 1;
                }
                other => panic!("status {other}"),
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        // the burst of 10, then 10 a second, within 15 %
        let expected = 10.0 + 10.0 * elapsed;
        assert!(
            (f64::from(accepted) - expected).abs() <= expected * 0.15,
            "{accepted} accepted, {refused} refused in {elapsed:.2} s (expected about {expected:.0})"
        );
        a.stop().await;
        b.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_connection_cap_counts_every_gateway() {
    let Some(redis) = TestRedis::new().await else {
        return;
    };
    bounded(30, async {
        let origin = Origin::start().await;
        let dir = MemDirectory::new(
            vec![account(1, "ada", "pw", Some(plan(1_000, 5, None)))],
            vec![],
        );
        let a = node(&dir, redis.node("a").await).await;
        let b = node(&dir, redis.node("b").await).await;
        ready(&[&a, &b]).await;
        let mut open = Vec::new();
        for n in 0..5 {
            let (stream, answer) = connect_tunnel(a.http, origin.addr, Some(("ada", "pw"))).await;
            assert_eq!(answer.status, 200, "tunnel {n}");
            open.push(stream);
        }
        let (_, sixth) = connect_tunnel(b.http, origin.addr, Some(("ada", "pw"))).await;
        assert_eq!(sixth.status, 429, "the sixth, on the other gateway");
        assert_eq!(sixth.error_code(), Some("rate_limited"));
        let (_, seventh) = connect_tunnel(a.http, origin.addr, Some(("ada", "pw"))).await;
        assert_eq!(seventh.status, 429);
        // one closes on a: once a gives its slot back (its next sync), b may open one
        drop(open.pop());
        let mut reopened = None;
        for _ in 0..30 {
            let (stream, answer) = connect_tunnel(b.http, origin.addr, Some(("ada", "pw"))).await;
            if answer.status == 200 {
                reopened = Some(stream);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            reopened.is_some(),
            "the freed slot reached the other gateway"
        );
        drop(open);
        a.stop().await;
        b.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_quota_used_up_through_one_gateway_stops_the_other() {
    if let Some(redis) = TestRedis::new().await {
        one_quota_stops_both(redis).await;
    }
}

#[tokio::test]
async fn a_quota_used_up_through_one_gateway_stops_the_other_on_a_redis_cluster() {
    if let Some(redis) = TestRedis::on_redis_cluster().await {
        one_quota_stops_both(redis).await;
    }
}

async fn one_quota_stops_both(redis: TestRedis) {
    bounded(30, async {
        let origin = Origin::start().await;
        let quota = 1_000_000;
        let dir = MemDirectory::new(
            vec![account(1, "ada", "pw", Some(plan(1_000, 100, Some(quota))))],
            vec![],
        );
        let a = node(&dir, redis.node("a").await).await;
        let b = node(&dir, redis.node("b").await).await;
        ready(&[&a, &b]).await;
        // a tunnel on b stays open: it must be cut when a uses the quota up
        let (mut tunnel, answer) = connect_tunnel(b.http, origin.addr, Some(("ada", "pw"))).await;
        assert_eq!(answer.status, 200);
        let big = origin.url("/bytes/700000");
        assert_eq!(
            proxied_get(a.http, &big, Some(("ada", "pw"))).await.status,
            200
        );
        assert_eq!(
            proxied_get(a.http, &big, Some(("ada", "pw"))).await.status,
            200
        );
        // b has metered nothing itself; once a reported, b refuses too
        sync_round().await;
        let mut refused = None;
        for _ in 0..30 {
            let r = proxied_get(b.http, &origin.url("/bytes/10"), Some(("ada", "pw"))).await;
            if r.status == 402 {
                refused = Some(r);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let refused = refused.expect("b refuses once the cluster is over quota");
        assert_eq!(refused.error_code(), Some("quota_exceeded"));
        // and the open tunnel on b was cut
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(5), tunnel.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "tunnel still open: {read:?}"
        );
        a.stop().await;
        b.stop().await;
    })
    .await;
}
