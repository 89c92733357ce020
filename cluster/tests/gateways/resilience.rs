//! Redis going away, or turning slow, in the middle of traffic: the gateway keeps serving on
//! its local limits, says so (status and metric), meters every byte regardless, and works on
//! the cluster's state again once Redis is back.

use std::time::Duration;

use cluster::ClusterState;
use cluster::test_support::TestRedis;

use crate::relay::Relay;
use crate::support::{MemDirectory, Origin, account, bounded, eventually, proxied_get};
use crate::{node, plan, ready};

#[tokio::test]
async fn a_gateway_serves_through_a_redis_outage_and_loses_no_byte() {
    let Some(redis) = TestRedis::new().await else {
        return;
    };
    bounded(60, async {
        let origin = Origin::start().await;
        let relay = Relay::start(redis.url()).await;
        let shared = ClusterState::connect(&relay.url(), redis.name(), "a")
            .await
            .expect("connect through the relay");
        let dir = MemDirectory::new(
            vec![account(1, "ada", "pw", Some(plan(1_000, 100, None)))],
            vec![],
        );
        let a = node(&dir, shared).await;
        ready(&[&a]).await;
        let url = origin.url("/bytes/1000");
        let mut delivered = 0u64;
        let get = async |n: u32| {
            let r = proxied_get(a.http, &url, Some(("ada", "pw"))).await;
            assert_eq!(r.status, 200, "request {n}: {:?}", r.error_code());
            r.body.len() as u64
        };
        for n in 0..20 {
            delivered += get(n).await;
        }
        assert_eq!(a.handle.cluster_status(), Some((true, 0)));

        // Redis goes away mid-traffic: every request is still served (past the batch the
        // gateway holds, which lasts 100 ms, it asks Redis for more and gets no answer)
        relay.cut();
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        for n in 20..60 {
            delivered += get(n).await;
        }
        let (up, fallbacks) = a.handle.cluster_status().expect("a cluster node");
        assert!(!up && fallbacks > 0, "degraded: {up} {fallbacks}");

        // back: the gateway notices within its next sync and works on the cluster again
        relay.restore();
        eventually(10, || a.handle.cluster_status().is_some_and(|(up, _)| up)).await;
        for n in 60..80 {
            delivered += get(n).await;
        }
        // a slow Redis (over 50 ms) is as good as none
        relay.slow_down(Duration::from_millis(200));
        let before = a.handle.cluster_status().expect("node").1;
        tokio::time::sleep(Duration::from_millis(150)).await;
        for n in 80..100 {
            delivered += get(n).await;
        }
        let (up, after) = a.handle.cluster_status().expect("node");
        assert!(
            !up && after > before,
            "slow counts as down: {up} {before} {after}"
        );
        relay.slow_down(Duration::ZERO);

        // metering never depended on Redis: every byte delivered is in the usage records
        let sink = a.stop().await;
        let (_, down, requests, errors) = sink.totals(1);
        assert_eq!(requests, 100);
        assert_eq!(errors, 0);
        assert!(down >= delivered, "metered {down} < delivered {delivered}");
    })
    .await;
}
