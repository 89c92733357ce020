//! The shared limits against a real Redis: each script's arithmetic, and two nodes sharing
//! one account's limits.

use std::time::Duration;

use cluster::test_support::TestRedis;
use proxy::{BytesDelta, SharedState};

#[tokio::test]
async fn the_request_bucket_gives_a_second_worth_then_says_when() {
    let Some(redis) = TestRedis::new().await else {
        return;
    };
    let (a, b) = (redis.node("a").await, redis.node("b").await);
    let first = a.take_requests(7, 10, 6).await.expect("take");
    assert_eq!(first.granted, 6);
    let second = b.take_requests(7, 10, 6).await.expect("take");
    assert_eq!(
        second.granted, 4,
        "the other node gets what is left of the burst"
    );
    let empty = a.take_requests(7, 10, 1).await.expect("take");
    assert_eq!(empty.granted, 0);
    assert!(
        empty.retry_after > Duration::ZERO && empty.retry_after <= Duration::from_millis(100),
        "{:?}",
        empty.retry_after
    );
    // another account has its own bucket
    assert_eq!(a.take_requests(8, 10, 10).await.expect("take").granted, 10);
    // a tenth of a second later, one request came back
    tokio::time::sleep(empty.retry_after + Duration::from_millis(5)).await;
    assert_eq!(b.take_requests(7, 10, 5).await.expect("take").granted, 1);
}

#[tokio::test]
async fn connection_leases_hold_across_nodes_and_lapse_when_a_node_stops_renewing() {
    let Some(redis) = TestRedis::new().await else {
        return;
    };
    let lease = Duration::from_millis(1_500);
    let a = redis.node("a").await.with_lease_time(lease);
    let b = redis.node("b").await.with_lease_time(lease);
    for n in 0..50 {
        assert!(
            a.lease_connections(1, 50, 1).await.expect("lease"),
            "slot {n}"
        );
    }
    assert!(
        !b.lease_connections(1, 50, 1).await.expect("lease"),
        "the 51st"
    );
    assert!(
        !a.lease_connections(1, 50, 1).await.expect("lease"),
        "on either node"
    );
    // a gives back ten
    a.renew_connections(vec![(1, 40)]).await.expect("renew");
    for _ in 0..10 {
        assert!(b.lease_connections(1, 50, 1).await.expect("lease"));
    }
    assert!(!b.lease_connections(1, 50, 1).await.expect("lease"));
    // a dies: b keeps renewing its own, and a's forty lapse
    tokio::time::sleep(lease / 2).await;
    b.renew_connections(vec![(1, 10)]).await.expect("renew");
    tokio::time::sleep(lease / 2 + Duration::from_millis(300)).await;
    b.renew_connections(vec![(1, 10)]).await.expect("renew");
    for n in 0..40 {
        assert!(
            b.lease_connections(1, 50, 1).await.expect("lease"),
            "slot {n} freed"
        );
    }
    assert!(!b.lease_connections(1, 50, 1).await.expect("lease"));
    // giving a lease back entirely
    b.renew_connections(vec![(1, 0)]).await.expect("release");
    assert!(a.lease_connections(1, 50, 50).await.expect("lease"));
}

#[tokio::test]
async fn byte_totals_add_up_every_node_per_period() {
    let Some(redis) = TestRedis::new().await else {
        return;
    };
    let (a, b) = (redis.node("a").await, redis.node("b").await);
    let delta = |account_id, period_start_ms, bytes| BytesDelta {
        account_id,
        period_start_ms,
        bytes,
    };
    assert_eq!(
        a.add_bytes(vec![delta(1, 100, 1_000), delta(2, 100, 5)])
            .await
            .expect("add"),
        vec![1_000, 5]
    );
    assert_eq!(
        b.add_bytes(vec![delta(1, 100, 500)]).await.expect("add"),
        vec![1_500]
    );
    assert_eq!(
        a.add_bytes(vec![delta(1, 100, 0), delta(1, 200, 7)])
            .await
            .expect("read"),
        vec![1_500, 7],
        "a delta of 0 reads; a new period starts from zero"
    );
}

#[tokio::test]
async fn a_session_is_bound_once_and_moves_keeping_its_expiry() {
    let Some(redis) = TestRedis::new().await else {
        return;
    };
    let (a, b) = (redis.node("a").await, redis.node("b").await);
    assert_eq!(a.session(1, "s1").await.expect("get"), None);
    a.bind_session(1, "s1", 11, Duration::from_secs(60))
        .await
        .expect("bind");
    let seen = b.session(1, "s1").await.expect("get").expect("bound");
    assert_eq!(seen.exit_id, 11);
    assert!(seen.ttl > Duration::from_secs(58) && seen.ttl <= Duration::from_secs(60));
    assert_eq!(b.session(2, "s1").await.expect("get"), None, "per account");
    // moved by b after a failure of exit 11: the expiry stays
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    b.bind_session(1, "s1", 12, Duration::from_secs(60))
        .await
        .expect("move");
    let moved = a.session(1, "s1").await.expect("get").expect("bound");
    assert_eq!(moved.exit_id, 12);
    assert!(moved.ttl < Duration::from_secs(59), "{:?}", moved.ttl);
    // and it ends with its TTL
    a.bind_session(1, "short", 11, Duration::from_millis(200))
        .await
        .expect("bind");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(b.session(1, "short").await.expect("get"), None);
}
