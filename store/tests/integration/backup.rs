//! What backups take from the store: a census is one consistent snapshot however the
//! database changes meanwhile (PostgreSQL: the exported snapshot's transaction; SQLite: the
//! `VACUUM INTO` copy), its key checksums move with any change of keys, and the backup
//! record's newest row is the newest backup.

use store::Backend;
use store::backup::{DatabaseReader, PostgresSnapshot, SqliteOpen};
use store::backups::{self, NewBackup};
use store::test_support::TestDb;

use crate::customer;

on_both_engines!(a_census_is_one_snapshot_whatever_is_written_meanwhile);
async fn a_census_is_one_snapshot_whatever_is_written_meanwhile(t: &TestDb) {
    let db = t.db();
    customer(db, "ada@example.com").await;
    let (before, snapshot_census_after_write) = match db.backend() {
        Backend::Postgres => {
            let mut snapshot = PostgresSnapshot::begin(db).await.unwrap();
            assert!(!snapshot.id().is_empty(), "an exported snapshot id");
            let before = snapshot.census().await.unwrap();
            customer(db, "bo@example.com").await;
            let after = snapshot.census().await.unwrap();
            snapshot.end().await.unwrap();
            (before, after)
        }
        Backend::Sqlite => {
            let dir = std::path::Path::new(t.url().trim_start_matches("sqlite://"))
                .parent()
                .unwrap()
                .to_path_buf();
            let copy = dir.join("copy.sqlite");
            store::backup::vacuum_into(db, &copy).await.unwrap();
            customer(db, "bo@example.com").await;
            let mut reader = DatabaseReader::sqlite(&copy, SqliteOpen::Backup)
                .await
                .unwrap();
            let census = reader.census().await.unwrap();
            assert!(reader.integrity_problems().await.unwrap().is_empty());
            reader.close().await;
            (census.clone(), census)
        }
    };
    assert_eq!(
        before, snapshot_census_after_write,
        "the snapshot does not move"
    );
    assert_eq!(before.tables["accounts"].rows, 1);
    assert_eq!(before.tables["accounts"].key_columns, ["id"]);
    assert_eq!(before.migration_version, Some(13));
    let usage_key = &before.tables["usage_hourly"].key_columns;
    assert_eq!(
        usage_key,
        &["account_id", "hour_start", "exit_id", "country"]
    );

    // the live database has moved on: one more account, another key checksum
    let mut live = match db.backend() {
        Backend::Postgres => DatabaseReader::postgres(t.url()).await.unwrap(),
        Backend::Sqlite => {
            let path = store::sqlite_file(t.url()).unwrap().unwrap();
            DatabaseReader::sqlite(&path, SqliteOpen::Live)
                .await
                .unwrap()
        }
    };
    let now = live.census().await.unwrap();
    live.close().await;
    assert_eq!(now.tables["accounts"].rows, 2);
    assert_ne!(
        now.tables["accounts"].key_sha256,
        before.tables["accounts"].key_sha256
    );
    assert_eq!(
        now.tables["plans"], before.tables["plans"],
        "an untouched table keeps its checksum"
    );
}

on_both_engines!(the_newest_backup_recorded_is_the_latest);
async fn the_newest_backup_recorded_is_the_latest(t: &TestDb) {
    let db = t.db();
    assert_eq!(backups::latest(db).await.unwrap(), None);
    let sha = "ab".repeat(32);
    for (at, file) in [(2_000, "b"), (1_000, "a")] {
        backups::record(
            db,
            &NewBackup {
                created_at: at,
                file,
                size_bytes: 10,
                sha256: &sha,
            },
        )
        .await
        .unwrap();
    }
    let latest = backups::latest(db).await.unwrap().unwrap();
    assert_eq!((latest.created_at, latest.file.as_str()), (2_000, "b"));
    let bad = backups::record(
        db,
        &NewBackup {
            created_at: 3_000,
            file: "c",
            size_bytes: 10,
            sha256: "short",
        },
    )
    .await;
    assert!(bad.is_err(), "a SHA-256 is 64 hex characters");
}
