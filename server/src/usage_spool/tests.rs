//! The spool file on its own: what a dead process leaves is adopted once, by the same
//! database only, with its outstanding batches whole.

use super::*;

const DB: &str = "sqlite:/tmp/a.db";

fn record(account: i64, down: u64) -> UsageRecord {
    UsageRecord {
        account_id: account,
        exit_id: 0,
        country: String::new(),
        hour_start_ms: 3_600_000,
        bytes_up: 0,
        bytes_down: down,
        requests: 1,
        errors: 0,
        errors_by_code: Vec::new(),
        session: String::new(),
    }
}

fn spool_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("test step")
        .map(|e| e.expect("test step").path())
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn written_batches_leave_an_empty_file_and_a_clean_stop_leaves_none() {
    let dir = tempfile::tempdir().expect("test step");
    let spool = UsageSpool::create(dir.path(), DB).expect("test step");
    spool.keep("a-1", &[record(1, 10)]).await;
    spool.keep("a-1", &[record(2, 5)]).await;
    spool.keep("a-2", &[record(1, 1)]).await;
    let path = spool_files(dir.path()).remove(0);
    let grown = std::fs::metadata(&path).expect("test step").len();
    spool.written("a-1").await;
    assert!(
        std::fs::metadata(&path).expect("test step").len() > grown,
        "a done line"
    );
    spool.written("a-2").await;
    assert_eq!(
        std::fs::metadata(&path).expect("test step").len(),
        spool.header_len,
        "nothing outstanding: emptied to its header"
    );
    assert!(
        orphans(dir.path(), DB).is_empty(),
        "a live spool is not an orphan"
    );
    drop(spool);
    assert!(spool_files(dir.path()).is_empty());
}

#[tokio::test]
async fn a_dead_processs_outstanding_batches_are_adopted_whole_by_the_same_database_only() {
    let dir = tempfile::tempdir().expect("test step");
    let spool = UsageSpool::create(dir.path(), DB).expect("test step");
    spool.keep("a-1", &[record(1, 10)]).await;
    spool.keep("a-2", &[record(1, 7)]).await;
    spool.keep("a-2", &[record(2, 3)]).await;
    spool.written("a-1").await;
    let path = spool_files(dir.path()).remove(0);
    // The process dies: its lock goes with it, its file stays, the last line half-written.
    drop(spool);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("test step")
        .write_all(br#"{"kind":"add","batch":"a-3","del"#)
        .expect("test step");

    assert!(orphans(dir.path(), "postgres:db:5432/other").is_empty());
    let found = orphans(dir.path(), DB);
    assert_eq!(found.len(), 1);
    let batches = &found[0].batches;
    assert_eq!(batches.len(), 1, "a-1 was done, a-3 torn");
    assert_eq!(batches[0].0, "a-2");
    let down: Vec<(i64, i64)> = batches[0]
        .1
        .iter()
        .map(|d| (d.account_id.get(), d.bytes_down))
        .collect();
    assert_eq!(down, vec![(1, 7), (2, 3)]);
    // While one gateway replays it, another does not take it too.
    assert!(orphans(dir.path(), DB).is_empty());
    drop(found);
    assert_eq!(
        orphans(dir.path(), DB).len(),
        1,
        "free again if the replay stopped"
    );
}

#[test]
fn the_database_identity_has_no_credentials() {
    assert_eq!(
        database_identity("postgres://user:secret@db.internal:6432/atlantic?sslmode=require"),
        "postgres:db.internal:6432/atlantic"
    );
    assert_eq!(
        database_identity("postgres://db/atlantic"),
        "postgres:db:5432/atlantic"
    );
    let dir = tempfile::tempdir().expect("test step");
    let file = dir.path().join("a.db");
    std::fs::write(&file, b"").expect("test step");
    let id = database_identity(&format!("sqlite://{}?mode=rwc", file.display()));
    assert_eq!(
        id,
        format!(
            "sqlite:{}",
            file.canonicalize().expect("test step").display()
        )
    );
}
