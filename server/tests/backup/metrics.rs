//! The backup gauges: a backup taken by another process (as cron would) shows on the
//! service's `/metrics` once housekeeping has read it from the database.

use std::time::Duration;

use crate::common::{Engine, Service, TestDb};
use crate::support::{self, Scratch};

/// The value of the unlabelled series `name` in Prometheus text.
fn value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

async fn the_last_backup_shows_on_metrics(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    let service = Service::start(db.url()).await;
    let backups = Scratch::new("metrics-backups");
    let backup = support::create_backup(db.url(), backups.path()).await;
    let manifest = support::manifest(&backup);
    let size = manifest["size_bytes"].as_f64().expect("a size");
    let taken =
        chrono::DateTime::parse_from_rfc3339(manifest["created_at"].as_str().expect("a time"))
            .expect("RFC 3339")
            .timestamp() as f64;

    // the recorder is shared by every service in this test binary: another test's service
    // may set the gauges between our housekeeping and our read, so try a few times
    let mut last = String::new();
    let mut shown = false;
    for _ in 0..20 {
        service.housekeep().await;
        last = service.get("/metrics").await.text().await.expect("metrics");
        if value(&last, "atlantic_backup_last_success_timestamp_seconds") == Some(taken)
            && value(&last, "atlantic_backup_last_size_bytes") == Some(size)
        {
            shown = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        shown,
        "the gauges show the backup taken at {taken} of {size} bytes:\n{}",
        last.lines()
            .filter(|l| l.contains("atlantic_backup"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        last.contains("# HELP atlantic_backup_last_success_timestamp_seconds"),
        "described"
    );
    let recorded = store::backups::latest(db.db())
        .await
        .expect("query")
        .expect("the backup is recorded");
    assert_eq!(
        Some(recorded.file.as_str()),
        backup.file_name().and_then(|n| n.to_str())
    );
    assert_eq!(recorded.sha256, manifest["sha256"].as_str().expect("sha"));
    service.stop().await.expect("clean stop");
    db.close().await;
}
on_both_engines!(the_last_backup_shows_on_metrics);
