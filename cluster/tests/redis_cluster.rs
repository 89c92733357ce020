//! The cluster state on a real Redis Cluster of three primaries (started for each test):
//! every operation of the gateways, the registry, the live statistics and the change notices,
//! for enough accounts and nodes that their keys land on every primary.

use std::time::Duration;

use cluster::test_support::{TestRedis, gateway_report};
use cluster::{Change, ClusterState};
use futures::future::join_all;
use proxy::{BytesDelta, SharedState, StatsSnapshot, TrafficStats};
use tokio_util::sync::CancellationToken;

const ACCOUNTS: i64 = 30;

/// How many keys each server of the Redis Cluster holds.
async fn keys_per_server(redis: &TestRedis) -> Vec<i64> {
    let mut counts = Vec::new();
    for url in redis.server_urls() {
        let client = redis::Client::open(url.as_str()).expect("url");
        let mut connection = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect to one server");
        counts.push(
            redis::cmd("DBSIZE")
                .query_async(&mut connection)
                .await
                .expect("dbsize"),
        );
    }
    counts
}

#[tokio::test]
async fn the_gateways_limits_hold_for_accounts_on_every_primary() {
    let Some(redis) = TestRedis::on_redis_cluster().await else {
        return;
    };
    assert!(redis.is_redis_cluster());
    let (a, b) = (redis.node("a").await, redis.node("b").await);
    // requests: a second's worth per account, shared by both nodes
    for account in 1..=ACCOUNTS {
        assert_eq!(
            a.take_requests(account, 10, 6).await.expect("take").granted,
            6
        );
        assert_eq!(
            b.take_requests(account, 10, 6).await.expect("take").granted,
            4
        );
    }
    // connection slots: a cap of 2 per account across the nodes, renewed all at once
    for account in 1..=ACCOUNTS {
        assert!(a.lease_connections(account, 2, 2).await.expect("lease"));
        assert!(!b.lease_connections(account, 2, 1).await.expect("lease"));
    }
    let renewals: Vec<(i64, u32)> = (1..=ACCOUNTS).map(|account| (account, 1)).collect();
    a.renew_connections(renewals)
        .await
        .expect("renew every account");
    for account in 1..=ACCOUNTS {
        assert!(
            b.lease_connections(account, 2, 1).await.expect("lease"),
            "{account}"
        );
    }
    // byte totals: one report for every account, from both nodes
    let deltas = |bytes: u64| {
        (1..=ACCOUNTS)
            .map(|account_id| BytesDelta {
                account_id,
                period_start_ms: 1_700_000_000_000,
                bytes: bytes * u64::try_from(account_id).unwrap_or(0),
            })
            .collect::<Vec<_>>()
    };
    a.add_bytes(deltas(100)).await.expect("add on a");
    let totals = b.add_bytes(deltas(1)).await.expect("add on b");
    let expected: Vec<u64> = (1..=ACCOUNTS as u64).map(|n| n * 101).collect();
    assert_eq!(totals, expected, "each account's total, in the order asked");
    // sessions
    for account in 1..=ACCOUNTS {
        a.bind_session(account, "s", 1_000 + account, Duration::from_secs(60))
            .await
            .expect("bind");
    }
    for account in 1..=ACCOUNTS {
        let seen = b.session(account, "s").await.expect("get").expect("bound");
        assert_eq!(seen.exit_id, 1_000 + account);
    }
    // and the keys are spread over the three primaries
    let counts = keys_per_server(&redis).await;
    assert!(
        counts.iter().all(|&n| n > 0),
        "keys per primary: {counts:?}"
    );
}

fn snapshot(now_ms: i64, requests_total: u64) -> StatsSnapshot {
    StatsSnapshot {
        taken_at_ms: now_ms,
        ready: true,
        global: TrafficStats {
            requests_total,
            ..TrafficStats::default()
        },
        accounts: Vec::new(),
        exits: Vec::new(),
        sessions: Vec::new(),
        reconciliation: proxy::Reconciliation::default(),
    }
}

#[tokio::test]
async fn the_registry_and_live_statistics_add_up_every_node() {
    let Some(redis) = TestRedis::on_redis_cluster().await else {
        return;
    };
    let now = 1_700_000_000_000_i64;
    let nodes: Vec<ClusterState> = join_all((1..=6).map(|n| {
        let redis = &redis;
        async move { redis.node(&format!("gw-{n}")).await }
    }))
    .await;
    for (n, node) in (1_u64..).zip(&nodes) {
        node.report(&gateway_report(node.node(), now))
            .await
            .expect("report");
        node.publish_stats(&snapshot(now, n)).await.expect("stats");
    }
    let listed = nodes[0].nodes(now).await.expect("list");
    assert_eq!(listed.len(), 6);
    assert!(listed.iter().all(|n| n.up));
    // the snapshots sit under six keys on several primaries: one read adds them up
    let total = nodes[0].cluster_stats(now).await.expect("cluster stats");
    assert_eq!(total.global.requests_total, 1 + 2 + 3 + 4 + 5 + 6);
    nodes[5].deregister().await.expect("deregister");
    let total = nodes[1].cluster_stats(now).await.expect("cluster stats");
    assert_eq!(total.global.requests_total, 1 + 2 + 3 + 4 + 5);
}

#[tokio::test]
async fn a_change_notice_reaches_listeners_subscribed_on_other_primaries() {
    let Some(redis) = TestRedis::on_redis_cluster().await else {
        return;
    };
    let stop = CancellationToken::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let listener = redis.node("gw-a").await;
    let follow = tokio::spawn({
        let stop = stop.clone();
        async move {
            listener
                .follow_changes(stop, move |change| {
                    let _ = tx.send(change);
                })
                .await;
        }
    });
    // the listener subscribes on the first seed; publish on each primary in turn, as a
    // dashboard connected anywhere in the cluster would
    for url in redis.server_urls() {
        // what an earlier server's retries left in flight must not count for this one
        tokio::time::sleep(Duration::from_millis(200)).await;
        while rx.try_recv().is_ok() {}
        let publisher = ClusterState::connect(&url, redis.name(), "web")
            .await
            .expect("one primary alone");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            publisher.publish(Change::Directory).await.expect("publish");
            match tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
                Ok(Some(change)) => {
                    assert_eq!(change, Change::Directory);
                    break;
                }
                _ => assert!(
                    tokio::time::Instant::now() < deadline,
                    "no notice from {url} in 5 s"
                ),
            }
        }
    }
    stop.cancel();
    follow.await.expect("the listener stops");
}
