//! The restore drill, as docs/runbooks.md tells an operator to run it: a month of usage for
//! 1,000 accounts; a backup taken by `atlantic backup create` in its own process while
//! proxied requests flow through the gateway; `atlantic backup restore` into a new database;
//! every table's row count and key checksum compared with the manifest by the test itself;
//! `atlantic serve` on the restored database, signed in to as a seeded customer. Prints the
//! restore time and the time until the restored service is ready (the RTO).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::common::{self, Browser, Engine, Service, TestDb};
use crate::support::{self, SEEDED_ACCOUNTS, SEEDED_HOURS, Scratch};

/// Proxied requests through the gateway until `stop`, counting the answered ones.
struct Traffic {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Traffic {
    async fn start(service: &Service, user: &str, password: &str) -> Traffic {
        let origin = common::origin("hello through the gateway").await;
        let proxy = format!("http://{user}:{password}@{}", service.http_proxy);
        let client = reqwest::Client::builder()
            .proxy(reqwest::Proxy::http(proxy).expect("proxy"))
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        let url = format!("http://{origin}/");
        // the customer reaches the gateway at its next directory load
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let response = client.get(&url).send().await.expect("a proxied request");
            if response.status() == 200 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the gateway did not take the customer: {}",
                response.status()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn({
            let (stop, answered) = (stop.clone(), answered.clone());
            async move {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(r) = client.get(&url).send().await
                        && r.status() == 200
                        && r.text()
                            .await
                            .is_ok_and(|t| t == "hello through the gateway")
                    {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        });
        Traffic {
            stop,
            answered,
            task,
        }
    }

    fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    /// Waits until `more` further requests have been answered (20 s at most).
    async fn wait_for(&self, more: u64) {
        let target = self.answered() + more;
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.answered() < target {
            assert!(Instant::now() < deadline, "traffic stopped flowing");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the traffic task ends");
        self.answered.load(Ordering::Relaxed)
    }
}

async fn restore_drill(engine: Engine) {
    let Some(source) = TestDb::new(engine).await else {
        return;
    };
    let seeding = Instant::now();
    support::seed(source.db()).await;
    let (user, password) = common::customer(source.db(), "traffic@example.com", "Team").await;
    eprintln!(
        "[{engine}] seeded {SEEDED_ACCOUNTS} accounts with a month of usage in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    // (2) the backup, taken by its own process while the gateway relays and meters traffic
    let service = Service::start(source.url()).await;
    let traffic = Traffic::start(&service, &user, &password).await;
    traffic.wait_for(20).await;
    let backups = Scratch::new("drill-backups");
    let before = traffic.answered();
    let backing_up = Instant::now();
    let backup = support::create_backup(source.url(), backups.path()).await;
    let backup_time = backing_up.elapsed();
    let during = traffic.answered() - before;
    traffic.wait_for(5).await;
    let total = traffic.stop().await;
    service.stop().await.expect("clean stop");
    assert!(
        during > 0,
        "requests were answered while the backup ran ({during} of {total})"
    );
    let manifest = support::manifest(&backup);
    let expected = support::manifest_census(&manifest);
    assert_eq!(manifest["engine"], engine.to_string());
    assert_eq!(
        expected.tables["accounts"].rows,
        SEEDED_ACCOUNTS + 1,
        "the seeded accounts and the traffic customer"
    );
    assert!(
        expected.tables["usage_hourly"].rows >= SEEDED_ACCOUNTS * SEEDED_HOURS,
        "a month of usage: {}",
        expected.tables["usage_hourly"].rows
    );
    assert!(expected.migration_version.is_some_and(|v| v >= 10));

    // (3) restored into a new database
    let target_scratch = Scratch::new("drill-restored");
    let target_pg = match engine {
        Engine::Postgres => Some(
            TestDb::unmigrated(Engine::Postgres)
                .await
                .expect("PostgreSQL answered a moment ago"),
        ),
        Engine::Sqlite => None,
    };
    let target_url = match &target_pg {
        Some(db) => db.url().to_owned(),
        None => target_scratch.sqlite_url("restored/atlantic.db"),
    };
    let backup_arg = backup.to_str().expect("a UTF-8 path");
    let restoring = Instant::now();
    let restored = support::atlantic(&target_url, &["backup", "restore", backup_arg], &[]).await;
    let restore_time = restoring.elapsed();
    assert!(
        restored.status.success(),
        "backup restore: {}",
        support::stderr(&restored)
    );
    let report = support::stdout(&restored);
    assert_eq!(
        report.lines().filter(|l| l.ends_with("keys=match")).count(),
        expected.tables.len(),
        "one matching line per table: {report}"
    );

    // (4) every table's rows and key checksum, counted by the test, against the manifest
    let found = support::census_of(&target_url).await;
    assert_eq!(found.migration_version, expected.migration_version);
    assert_eq!(
        found.tables.keys().collect::<Vec<_>>(),
        expected.tables.keys().collect::<Vec<_>>()
    );
    for (table, want) in &expected.tables {
        let got = &found.tables[table];
        assert_eq!(got.rows, want.rows, "{table}: rows");
        assert_eq!(got.key_sha256, want.key_sha256, "{table}: key checksum");
    }

    // (5) the restored database serves, and a seeded customer signs in to their usage
    let starting = Instant::now();
    let restored_service = Service::start(&target_url).await;
    let start_time = starting.elapsed();
    let email = support::seeded_email(500);
    let browser = Browser::new(&restored_service);
    browser.sign_in_customer(&email).await;
    let usage = browser.get("/usage").await;
    assert_eq!(usage.status(), 200);
    let home = browser.get("/").await.text().await.expect("the dashboard");
    assert!(home.contains(&email), "the dashboard shows {email}");
    restored_service.stop().await.expect("clean stop");

    // (6) the figures to quote
    let rows: i64 = expected.tables.values().map(|t| t.rows).sum();
    println!(
        "RTO [{engine}]: restore {:.2} s (verify, restore, recount) + start {:.2} s = {:.2} s \
         for {rows} rows; the backup took {:.2} s, {} bytes, {during} proxied requests answered \
         meanwhile",
        restore_time.as_secs_f64(),
        start_time.as_secs_f64(),
        (restore_time + start_time).as_secs_f64(),
        backup_time.as_secs_f64(),
        manifest["size_bytes"]
    );
    drop(target_pg);
    source.close().await;
}
on_both_engines!(restore_drill);
