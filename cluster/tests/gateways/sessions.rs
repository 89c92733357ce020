//! Sticky sessions: one session id, one exit, on every gateway, until the session's TTL.

use std::time::Duration;

use cluster::test_support::TestRedis;
use proxy::SharedState;

use crate::support::{
    MemDirectory, Origin, TestGateway, account, bounded, connect_tunnel, exit, test_config,
};
use crate::{node_with, plan, ready};

#[tokio::test]
async fn a_session_keeps_its_exit_on_every_gateway_until_its_ttl() {
    let Some(redis) = TestRedis::new().await else {
        return;
    };
    bounded(30, async {
        let origin = Origin::start().await;
        let exits = [TestGateway::upstream().await, TestGateway::upstream().await];
        let dir = MemDirectory::new(
            vec![account(1, "ada", "pw", Some(plan(1_000, 100, None)))],
            vec![
                exit(1, &exits[0].http_url("up", "uppw"), "de"),
                exit(2, &exits[1].http_url("up", "uppw"), "de"),
            ],
        );
        let config = proxy::GatewayConfig {
            strategy: proxy::Strategy::RoundRobin,
            session_ttl: Duration::from_secs(2),
            ..test_config()
        };
        let a = node_with(&dir, redis.node("a").await, config.clone()).await;
        let b = node_with(&dir, redis.node("b").await, config).await;
        ready(&[&a, &b]).await;
        // tunnels: each one dials its exit (forward requests may reuse a pooled connection)
        let open = async |gateway, user: &str| {
            connect_tunnel(gateway, origin.addr, Some((user, "pw")))
                .await
                .1
                .status
        };
        // successful connects through each exit, as both gateways count them
        let served = || {
            let mut by_exit = [0u64; 2];
            for g in [&a, &b] {
                for e in g.handle.stats().snapshot().exits {
                    by_exit[usize::try_from(e.id - 1).expect("id 1 or 2")] += e.successes;
                }
            }
            by_exit
        };
        // without a session, round robin spreads requests over both exits
        for _ in 0..4 {
            assert_eq!(open(a.http, "ada").await, 200);
        }
        let before = served();
        assert!(before[0] > 0 && before[1] > 0, "{before:?}");
        // with one, every request on either gateway takes the same exit
        for n in 0..8 {
            let gateway = if n % 2 == 0 { a.http } else { b.http };
            assert_eq!(open(gateway, "ada-session-abc").await, 200);
        }
        let after = served();
        let moved = [after[0] - before[0], after[1] - before[1]];
        assert!(moved.contains(&8) && moved.contains(&0), "{moved:?}");
        let first = redis
            .node("probe")
            .await
            .session(1, "abc")
            .await
            .expect("read")
            .expect("bound in the cluster");
        assert_eq!(first.exit_id, if moved[0] == 8 { 1 } else { 2 });
        // after the TTL the binding is gone, and the next request binds afresh
        tokio::time::sleep(Duration::from_millis(2_200)).await;
        let probe = redis.node("probe").await;
        assert_eq!(probe.session(1, "abc").await.expect("read"), None);
        assert_eq!(open(b.http, "ada-session-abc").await, 200);
        let again = probe
            .session(1, "abc")
            .await
            .expect("read")
            .expect("bound again");
        assert!(again.ttl > Duration::from_millis(1_500), "{:?}", again.ttl);
        a.stop().await;
        b.stop().await;
        for e in exits {
            e.stop().await;
        }
    })
    .await;
}
