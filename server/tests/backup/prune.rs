//! `atlantic backup prune`: the retention deletes old backups of ours, each with its
//! manifest, and never anything else in the directory.

use std::path::Path;

use crate::support::{self, Scratch};

/// A backup file of ours named for `stamp`, with a manifest naming it.
fn ours(dir: &Path, stamp: &str) -> String {
    let file = format!("atlantic-{stamp}.sqlite");
    std::fs::write(
        dir.join(&file),
        b"not a real database; prune never opens it",
    )
    .expect("file");
    let manifest = serde_json::json!({
        "format": 1,
        "engine": "sqlite",
        "created_at": "2025-01-01T03:00:00Z",
        "file": file,
        "size_bytes": 42,
        "sha256": "0".repeat(64),
        "app_version": "0.1.0",
        "migration_version": 10,
        "tables": {},
    });
    std::fs::write(
        dir.join(format!("{file}.manifest.json")),
        serde_json::to_vec(&manifest).expect("JSON"),
    )
    .expect("manifest");
    file
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("the directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn prune_deletes_only_our_backups_beyond_the_retention() {
    let scratch = Scratch::new("prune");
    let dir = scratch.path();
    // five daily backups of ours
    let backups: Vec<String> = (1..=5)
        .map(|day| ours(dir, &format!("2025010{day}T030000Z")))
        .collect();
    // and what is not ours: other files, our name without a manifest, an unfinished backup,
    // a manifest naming another file, a directory with our name
    let foreign = [
        "notes.txt",
        "atlantic.db",
        "atlantic-20241201T030000Z.sqlite",
        "atlantic-20241202T030000Z.pgdump.partial",
        "atlantic-20241203T030000Z.sqlite",
        "atlantic-20241203T030000Z.sqlite.manifest.json",
    ];
    for name in foreign {
        std::fs::write(dir.join(name), b"keep me").expect("file");
    }
    std::fs::write(
        dir.join("atlantic-20241203T030000Z.sqlite.manifest.json"),
        br#"{"file": "atlantic-20241204T030000Z.sqlite"}"#,
    )
    .expect("a manifest that is not one of ours");
    std::fs::create_dir(dir.join("atlantic-20241130T030000Z.sqlite")).expect("directory");
    let before = names(dir);

    let out = support::atlantic(
        "sqlite://unused.db",
        &[
            "backup",
            "prune",
            "--dir",
            dir.to_str().expect("UTF-8"),
            "--keep-daily",
            "2",
            "--keep-weekly",
            "0",
            "--keep-monthly",
            "0",
        ],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert!(
        support::stderr(&out).contains("kept 2 backup(s), deleted 3"),
        "{}",
        support::stderr(&out)
    );
    let mut expected: Vec<String> = before
        .into_iter()
        .filter(|name| {
            !backups[..3]
                .iter()
                .any(|b| name == b || *name == format!("{b}.manifest.json"))
        })
        .collect();
    expected.sort();
    assert_eq!(names(dir), expected);
    assert!(dir.join(&backups[4]).exists() && dir.join(&backups[3]).exists());
    assert!(!Path::new("unused.db").exists(), "prune opens no database");
}

#[tokio::test]
async fn a_missing_directory_is_named() {
    let out = support::atlantic(
        "sqlite://unused.db",
        &["backup", "prune", "--dir", "/nonexistent/atlantic-backups"],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let message = support::stderr(&out);
    assert!(
        message.contains("--dir/ATLANTIC_BACKUP_DIR")
            && message.contains("/nonexistent/atlantic-backups"),
        "{message}"
    );
}
