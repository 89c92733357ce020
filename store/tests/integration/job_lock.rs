//! Once-per-cluster job locks: on PostgreSQL two nodes (two pools on one database) never hold
//! one job's lock together, and a lock dropped mid-job (a node that died) comes free.

use store::Db;
use store::job_lock::{Job, try_lock};
use store::test_support::TestDb;

async fn one_node_at_a_time(t: &TestDb) {
    let a = t.db();
    let b = Db::connect(t.url()).await.unwrap();
    let held = try_lock(a, Job::Billing).await.unwrap().expect("free");
    if a.backend() == store::Backend::Sqlite {
        // one process owns a SQLite file: nothing to coordinate
        assert!(try_lock(&b, Job::Billing).await.unwrap().is_some());
        held.release().await.unwrap();
        return;
    }
    assert!(
        try_lock(&b, Job::Billing).await.unwrap().is_none(),
        "the other node skips"
    );
    held.release().await.unwrap();
    let by_b = try_lock(&b, Job::Billing)
        .await
        .unwrap()
        .expect("free again");
    assert!(try_lock(a, Job::Billing).await.unwrap().is_none());
    // b dies mid-job: its lock goes with its connection
    drop(by_b);
    let mut freed = None;
    for _ in 0..50 {
        freed = try_lock(a, Job::Billing).await.unwrap();
        if freed.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    freed
        .expect("the dropped lock came free")
        .release()
        .await
        .unwrap();
    b.close().await;
}
on_both_engines!(one_node_at_a_time);
