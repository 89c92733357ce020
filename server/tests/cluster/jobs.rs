//! The billing pass runs on one dashboard node at a time: a node that finds its lock taken
//! skips its periodic round, or, asked to run now, waits for the other node to finish. (That
//! one due renewal is charged once when two nodes race for it is `billing::renewal`'s story;
//! this is the lock that keeps them from running side by side.)

use store::job_lock::{Job, try_lock};

use crate::common::Service;
use crate::nodes::Cluster;

#[tokio::test]
async fn a_node_skips_the_billing_pass_while_another_runs_it() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let one = Service::start(cluster.db.url()).await;
    let two = Service::start(cluster.db.url()).await;
    // another node (here: the test) is in the middle of the pass; the services run their own
    // first pass as they start, so the lock may be theirs for a moment
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let held = loop {
        if let Some(held) = try_lock(cluster.db.db(), Job::Billing).await.unwrap() {
            break held;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lock never came free"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    // asked to run now, both wait: neither runs the pass beside the other
    let racing = tokio::spawn(async move {
        let (a, b) = tokio::join!(one.housekeep(), two.housekeep());
        (a, b, one, two)
    });
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert!(
        !racing.is_finished(),
        "a pass ran while another node held the lock"
    );
    held.release().await.unwrap();
    let (a, b, one, two) = racing.await.unwrap();
    assert!(
        a.billing_ran && b.billing_ran,
        "each ran once the lock was free, one at a time"
    );
    one.stop().await.unwrap();
    two.stop().await.unwrap();
}
