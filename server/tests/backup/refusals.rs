//! What a backup refuses, and that a refusal changes nothing: a backup whose checksum does
//! not match its manifest is neither verified nor restored; a damaged backup with a manifest
//! rewritten to match is still caught (SQLite's integrity check and census, `pg_restore
//! --list`); a target database with tables is refused without `--force` and replaced with it;
//! a missing `pg_dump` or `pg_restore` names the package that installs it; a SQLite file that
//! does not exist is not created to be backed up empty.

use std::path::Path;

use crate::common::{self, Engine, TestDb};
use crate::support::{self, Scratch};

/// A small database with two customers, and its backup in `dir`.
async fn backed_up(engine: Engine, dir: &Path) -> Option<(TestDb, std::path::PathBuf)> {
    let source = TestDb::new(engine).await?;
    common::customer(source.db(), "ada@example.com", "Starter").await;
    common::customer(source.db(), "bo@example.com", "Personal").await;
    let backup = support::create_backup(source.url(), dir).await;
    Some((source, backup))
}

/// An empty target of `engine`: a path in `scratch` (SQLite), or a new database.
async fn empty_target(engine: Engine, scratch: &Scratch) -> (String, Option<TestDb>) {
    match engine {
        Engine::Sqlite => (scratch.sqlite_url("target.db"), None),
        Engine::Postgres => {
            let db = TestDb::unmigrated(Engine::Postgres)
                .await
                .expect("PostgreSQL answered a moment ago");
            (db.url().to_owned(), Some(db))
        }
    }
}

/// Whether the database at `url` has no table at all (a missing SQLite file counts).
async fn has_no_tables(url: &str) -> bool {
    match store::sqlite_file(url).expect("a database URL") {
        Some(path) if !path.exists() => true,
        _ => support::census_of(url).await.tables.is_empty(),
    }
}

/// Flips one byte in the middle of `file`.
fn flip_a_byte(file: &Path) {
    let mut bytes = std::fs::read(file).expect("read the backup");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(file, bytes).expect("write the backup");
}

async fn a_checksum_mismatch_is_refused_and_changes_nothing(engine: Engine) {
    let scratch = Scratch::new("mismatch");
    let Some((source, backup)) = backed_up(engine, scratch.path()).await else {
        return;
    };
    let file = backup.to_str().expect("UTF-8");
    let verified = support::atlantic(source.url(), &["backup", "verify", file], &[]).await;
    assert!(verified.status.success(), "{}", support::stderr(&verified));

    flip_a_byte(&backup);
    let verified = support::atlantic(source.url(), &["backup", "verify", file], &[]).await;
    assert!(
        !verified.status.success(),
        "a damaged backup does not verify"
    );
    assert!(
        support::stderr(&verified).contains("checksum mismatch"),
        "{}",
        support::stderr(&verified)
    );

    let (target, _target_db) = empty_target(engine, &scratch).await;
    for force in [false, true] {
        let mut args = vec!["backup", "restore", file];
        if force {
            args.push("--force");
        }
        let restored = support::atlantic(&target, &args, &[]).await;
        let message = support::stderr(&restored);
        assert_eq!(restored.status.code(), Some(1), "{message}");
        assert!(message.contains("checksum mismatch"), "{message}");
        assert!(message.contains("nothing was restored"), "{message}");
        assert!(
            has_no_tables(&target).await,
            "the target is untouched (force: {force})"
        );
        assert!(support::stdout(&restored).is_empty(), "no report on stdout");
    }
    source.close().await;
}
on_both_engines!(a_checksum_mismatch_is_refused_and_changes_nothing);

async fn verify_catches_damage_the_manifest_was_rewritten_to_hide(engine: Engine) {
    let scratch = Scratch::new("damaged");
    let Some(source) = TestDb::new(engine).await else {
        return;
    };
    support::seed(source.db()).await;
    let backup = support::create_backup(source.url(), scratch.path()).await;
    // 16 KiB of the table data three quarters in (past PostgreSQL's table of contents, which
    // `pg_restore --list` reads), and a manifest rewritten with the damaged file's checksum
    let mut bytes = std::fs::read(&backup).expect("read");
    let from = bytes.len() * 3 / 4;
    for byte in &mut bytes[from..from + 16 * 1024] {
        *byte = 0x5a;
    }
    std::fs::write(&backup, &bytes).expect("write");
    let mut manifest = support::manifest(&backup);
    let sha = {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&bytes);
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    manifest["sha256"] = serde_json::Value::String(sha);
    let mut manifest_name = backup.file_name().expect("a file").to_os_string();
    manifest_name.push(".manifest.json");
    std::fs::write(
        backup.with_file_name(manifest_name),
        serde_json::to_vec(&manifest).expect("JSON"),
    )
    .expect("rewrite the manifest");

    let file = backup.to_str().expect("UTF-8");
    let verified = support::atlantic(source.url(), &["backup", "verify", file], &[]).await;
    let message = support::stderr(&verified);
    assert_eq!(verified.status.code(), Some(1), "{message}");
    assert!(!message.contains("checksum mismatch"), "{message}");
    match engine {
        Engine::Sqlite => assert!(
            ["integrity check", "malformed", "does not hold"]
                .iter()
                .any(|m| message.contains(m)),
            "{message}"
        ),
        Engine::Postgres => assert!(message.contains("pg_restore failed"), "{message}"),
    }
    let (target, _target_db) = empty_target(engine, &scratch).await;
    let restored = support::atlantic(&target, &["backup", "restore", file], &[]).await;
    assert_eq!(restored.status.code(), Some(1));
    assert!(has_no_tables(&target).await, "the target is untouched");
    source.close().await;
}
on_both_engines!(verify_catches_damage_the_manifest_was_rewritten_to_hide);

async fn a_target_with_tables_needs_force(engine: Engine) {
    let scratch = Scratch::new("nonempty");
    let Some((source, backup)) = backed_up(engine, scratch.path()).await else {
        return;
    };
    let Some(target) = TestDb::new(engine).await else {
        return;
    };
    common::customer(target.db(), "already@example.com", "Starter").await;
    let file = backup.to_str().expect("UTF-8");

    let refused = support::atlantic(target.url(), &["backup", "restore", file], &[]).await;
    let message = support::stderr(&refused);
    assert_eq!(refused.status.code(), Some(1), "{message}");
    assert!(
        message.contains("is not empty") && message.contains("--force"),
        "{message}"
    );
    let emails = |db: &store::Db| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT email FROM accounts ORDER BY email")
                .fetch_all(db.pool())
                .await
                .expect("accounts")
        }
    };
    assert_eq!(
        emails(target.db()).await,
        ["already@example.com"],
        "the target is untouched"
    );

    // with --force it is replaced (the service on it would be stopped first: its pool goes)
    target.db().close().await;
    let forced =
        support::atlantic(target.url(), &["backup", "restore", file, "--force"], &[]).await;
    assert!(forced.status.success(), "{}", support::stderr(&forced));
    let reopened = store::Db::connect(target.url()).await.expect("reopen");
    assert_eq!(
        emails(&reopened).await,
        ["ada@example.com", "bo@example.com"],
        "the backup's accounts replace the target's"
    );
    let expected = support::manifest_census(&support::manifest(&backup));
    let found = support::census_of(target.url()).await;
    for (table, want) in &expected.tables {
        assert_eq!(found.tables.get(table), Some(want), "{table}");
    }
    reopened.close().await;
    source.close().await;
}
on_both_engines!(a_target_with_tables_needs_force);

async fn the_other_engine_is_refused(engine: Engine) {
    let scratch = Scratch::new("engines");
    let Some((source, backup)) = backed_up(engine, scratch.path()).await else {
        return;
    };
    let (target, _target_db) = empty_target(
        match engine {
            Engine::Sqlite => Engine::Postgres,
            Engine::Postgres => Engine::Sqlite,
        },
        &scratch,
    )
    .await;
    let file = backup.to_str().expect("UTF-8");
    let refused = support::atlantic(&target, &["backup", "restore", file], &[]).await;
    let message = support::stderr(&refused);
    assert_eq!(refused.status.code(), Some(1), "{message}");
    assert!(
        message.contains(&format!("is a {engine} backup")),
        "{message}"
    );
    assert!(has_no_tables(&target).await, "the target is untouched");
    source.close().await;
}
on_both_engines!(the_other_engine_is_refused);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_pg_dump_names_the_package() {
    let scratch = Scratch::new("no-pg-dump");
    let Some((source, backup)) = backed_up(Engine::Postgres, scratch.path()).await else {
        return;
    };
    // a PATH with nothing on it: no pg_dump, no pg_restore
    let empty_path = Scratch::new("empty-path");
    let path = empty_path.path().to_str().expect("UTF-8").to_owned();
    let backups = Scratch::new("no-pg-dump-backups");
    let dir = backups.path().to_str().expect("UTF-8");
    let created = support::atlantic(
        source.url(),
        &["backup", "create", "--dir", dir],
        &[("PATH", &path)],
    )
    .await;
    let message = support::stderr(&created);
    assert_eq!(created.status.code(), Some(1), "{message}");
    assert!(
        message.contains("pg_dump is not installed") && message.contains("postgresql-client"),
        "{message}"
    );
    assert_eq!(message.trim().lines().count(), 1, "one line: {message}");
    assert_eq!(
        std::fs::read_dir(backups.path())
            .expect("the directory")
            .count(),
        0,
        "nothing left behind, not even a partial file"
    );

    let file = backup.to_str().expect("UTF-8");
    let verified = support::atlantic(
        source.url(),
        &["backup", "verify", file],
        &[("PATH", &path)],
    )
    .await;
    let message = support::stderr(&verified);
    assert_eq!(verified.status.code(), Some(1), "{message}");
    assert!(
        message.contains("pg_restore is not installed") && message.contains("postgresql-client"),
        "{message}"
    );
    source.close().await;
}

#[tokio::test]
async fn a_missing_sqlite_file_is_not_created_and_backed_up() {
    let scratch = Scratch::new("missing-db");
    let url = scratch.sqlite_url("data/atlantic.db");
    let dir = scratch.path().join("backups");
    let out = support::atlantic(
        &url,
        &["backup", "create", "--dir", dir.to_str().expect("UTF-8")],
        &[],
    )
    .await;
    let message = support::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{message}");
    assert!(
        message.contains("DATABASE_URL") && message.contains("does not exist"),
        "{message}"
    );
    assert!(
        !scratch.path().join("data").exists(),
        "no database was created"
    );
    assert!(!dir.exists(), "no backup directory either");
}
