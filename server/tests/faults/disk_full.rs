//! SQLite's disk fills up during traffic: usage writes fail with the database's own "disk
//! is full" error, counted under `atlantic_database_write_failures_total{reason="storage_full"}`
//! (the alert's metric), the gateway serves on, and once space is freed the stored usage
//! equals what the clients counted: no transaction was half-written, nothing was lost or
//! doubled, and the database passes its integrity check.
//!
//! The database lives on a 24 MiB tmpfs of the test's own (mounting needs root: without it
//! the test is skipped, except under `CI=true`, where that fails it).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::Service;
use crate::traffic::{Route, Traffic, echo_origin};
use crate::{prepare_customer, stored_bytes};

const EMAIL: &str = "full@example.com";

/// A mounted tmpfs, unmounted on drop.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Option<SmallDisk> {
        let dir = std::env::temp_dir().join(format!("atl-small-disk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(
                !ci,
                "cannot mount a tmpfs for the disk-full test (needs root; CI=true)"
            );
            eprintln!("skipped: cannot mount a tmpfs (needs root)");
            return None;
        }
        Some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        &self.dir
    }

    /// Fills what is left of the disk with one file.
    fn fill(&self) -> PathBuf {
        let filler = self.dir.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = vec![0xa5u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        // the last partial block: byte by byte until nothing more fits
        while file.write_all(&[0]).is_ok() {}
        let _ = file.sync_all();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The storage-full write failures in `/metrics` (the recorder is this test binary's).
async fn storage_full_failures(service: &Service) -> f64 {
    let metrics = service.get("/metrics").await.text().await.unwrap();
    metrics
        .lines()
        .find(|l| {
            l.starts_with("atlantic_database_write_failures_total")
                && l.contains("reason=\"storage_full\"")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_usage_writes_whole_and_loses_nothing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn,server=info,proxy=info")
        .with_test_writer()
        .try_init();
    let Some(disk) = SmallDisk::mount(24) else {
        return;
    };
    let url = format!(
        "sqlite://{}?mode=rwc",
        disk.path().join("atlantic.db").display()
    );
    let (db, user, pass) = prepare_customer(&url, EMAIL).await;
    // The spool on another volume: this test is about the database's disk.
    let spool = tempfile::tempdir().unwrap();
    let service = Service::start_with(
        &url,
        &[("ATLANTIC_USAGE_SPOOL_DIR", spool.path().to_str().unwrap())],
    )
    .await;
    let route = Route {
        http_proxy: service.http_proxy,
        socks_proxy: service.socks_proxy,
        origin: echo_origin().await,
        user,
        pass,
    };
    let failures_before = storage_full_failures(&service).await;
    // An emptied write-ahead log: the next write must grow it, so it meets the full disk
    // (instead of reusing log space it had already).
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(db.pool())
        .await
        .unwrap();
    let filler = disk.fill();
    let traffic = Traffic::start(&route, 4, 8 * 1024, Duration::from_millis(20));

    // Full: the usage flushes fail as such, and the gateway serves on.
    let deadline = Instant::now() + Duration::from_secs(20);
    while storage_full_failures(&service).await < failures_before + 3.0 {
        assert!(
            Instant::now() < deadline,
            "no storage_full write failure counted while the disk is full"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let served = traffic.bytes();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(traffic.bytes() > served, "the gateway serves on");
    assert_eq!(traffic.failures(), 0, "no tunnel failed");
    assert_eq!(
        stored_bytes(&db, EMAIL).await,
        (0, 0),
        "nothing was written, not even part of a batch"
    );

    // Space is freed: the retried flushes store every byte, once.
    std::fs::remove_file(&filler).unwrap();
    let counted = traffic.stop().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stored = stored_bytes(&db, EMAIL).await;
        if stored == (counted, counted) {
            break;
        }
        if Instant::now() >= deadline {
            let metrics = service.get("/metrics").await.text().await.unwrap();
            let failures: Vec<&str> = metrics
                .lines()
                .filter(|l| l.starts_with("atlantic_database_write_failures_total"))
                .collect();
            panic!("stored {stored:?}, the clients counted {counted} each way; {failures:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(stored_bytes(&db, EMAIL).await, (counted, counted));
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
    service.stop().await.expect("clean stop");
    db.close().await;
}
