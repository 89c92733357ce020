//! The scheduled backup (`ATLANTIC_BACKUP_EVERY`): the service takes one when none is
//! recorded within the interval, and not again until the interval has passed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{Engine, Service, TestDb};
use crate::support::{self, Scratch};

/// The backup files in `dir` that have their manifest.
fn complete_backups(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.expect("entry").path()).collect())
        .unwrap_or_default();
    found.retain(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name.starts_with("atlantic-")
            && (name.ends_with(".sqlite") || name.ends_with(".pgdump"))
            && p.with_file_name(format!("{name}.manifest.json")).exists()
    });
    found.sort();
    found
}

async fn the_service_takes_a_backup_when_one_is_due(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else {
        return;
    };
    crate::common::customer(db.db(), "ada@example.com", "Starter").await;
    let backups = Scratch::new("scheduled");
    let dir = backups.path().join("nested");
    let service = Service::start_with(
        db.url(),
        &[
            ("ATLANTIC_BACKUP_EVERY", "1h"),
            ("ATLANTIC_BACKUP_DIR", dir.to_str().expect("UTF-8")),
        ],
    )
    .await;
    // none recorded: the housekeeping loop takes one as it starts (the file is complete a
    // moment before its record is written: wait for both)
    let deadline = Instant::now() + Duration::from_secs(30);
    let recorded = loop {
        let latest = store::backups::latest(db.db()).await.expect("query");
        if let Some(recorded) = latest.filter(|_| !complete_backups(&dir).is_empty()) {
            break recorded;
        }
        assert!(Instant::now() < deadline, "no scheduled backup within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let taken = complete_backups(&dir);
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert_eq!(
        Some(recorded.file.as_str()),
        taken[0].file_name().and_then(|n| n.to_str())
    );

    // within the hour, housekeeping takes no other
    service.housekeep().await;
    assert_eq!(
        complete_backups(&dir),
        taken,
        "not due again within the interval"
    );

    let file = taken[0].to_str().expect("UTF-8");
    let verified = support::atlantic(db.url(), &["backup", "verify", file], &[]).await;
    assert!(verified.status.success(), "{}", support::stderr(&verified));
    let census = support::manifest_census(&support::manifest(&taken[0]));
    assert_eq!(census.tables["accounts"].rows, 1);
    service.stop().await.expect("clean stop");
    db.close().await;
}
on_both_engines!(the_service_takes_a_backup_when_one_is_due);
