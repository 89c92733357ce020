//! What the backup tests share: running `atlantic backup …` as an operator would, seeding
//! accounts with usage in a few batched statements, reading manifests, and scratch
//! directories.

use std::path::{Path, PathBuf};
use std::process::Output;

use store::backup::{Census, DatabaseReader, SqliteOpen};

use crate::common::CUSTOMER_PASSWORD;

/// `atlantic ARGS` on `database_url`, with `extra` environment variables.
pub async fn atlantic(database_url: &str, args: &[&str], extra: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_atlantic"));
    command
        .args(args)
        .env("DATABASE_URL", database_url)
        .env_remove("ATLANTIC_ENV")
        .env_remove("ATLANTIC_BACKUP_DIR");
    for (name, value) in extra {
        command.env(name, value);
    }
    command.output().await.expect("run atlantic")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `atlantic backup create --dir DIR`, which must succeed; returns the backup's path.
pub async fn create_backup(database_url: &str, dir: &Path) -> PathBuf {
    let dir = dir.to_str().expect("a UTF-8 path");
    let out = atlantic(database_url, &["backup", "create", "--dir", dir], &[]).await;
    assert!(out.status.success(), "backup create: {}", stderr(&out));
    let path = PathBuf::from(stdout(&out).trim());
    assert!(path.is_file(), "stdout names the backup: {}", stdout(&out));
    path
}

/// The manifest beside `backup`, as JSON.
pub fn manifest(backup: &Path) -> serde_json::Value {
    let mut name = backup.file_name().expect("a file").to_os_string();
    name.push(".manifest.json");
    let text = std::fs::read_to_string(backup.with_file_name(name)).expect("a manifest");
    serde_json::from_str(&text).expect("JSON")
}

/// The census in a manifest.
pub fn manifest_census(manifest: &serde_json::Value) -> Census {
    serde_json::from_value(manifest.clone()).expect("a census in the manifest")
}

/// The census of the database at `url`, taken by the test itself.
pub async fn census_of(url: &str) -> Census {
    let mut reader = match store::sqlite_file(url).expect("a database URL") {
        Some(path) => DatabaseReader::sqlite(&path, SqliteOpen::Live).await,
        None => DatabaseReader::postgres(url).await,
    }
    .expect("open the database");
    let census = reader.census().await.expect("census");
    reader.close().await;
    census
}

/// A fresh directory under the system's temporary one, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(what: &str) -> Scratch {
        use rand::Rng;
        let n: u64 = rand::rng().random();
        let dir = std::env::temp_dir().join(format!("atlantic-{what}-{n:016x}"));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A `sqlite://` URL of a database file in here that does not exist yet.
    pub fn sqlite_url(&self, name: &str) -> String {
        format!("sqlite://{}", self.0.join(name).display())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How many accounts [`seed`] makes: `seed0001@example.com` … `seed1000@example.com`.
pub const SEEDED_ACCOUNTS: i64 = 1000;
/// The hours of usage each seeded account has: every sixth hour for 30 days.
pub const SEEDED_HOURS: i64 = 120;

/// A seeded account's email.
pub fn seeded_email(n: i64) -> String {
    format!("seed{n:04}@example.com")
}

/// 1,000 customers on Starter (password [`CUSTOMER_PASSWORD`]), each with a month of usage
/// (every sixth hour, by exit country, with sticky sessions and errors once a day) and a
/// sign-in in its activity, written with one statement per table.
pub async fn seed(db: &store::Db) {
    let now = store::now_ms();
    let hash = store::accounts::hash_password(CUSTOMER_PASSWORD).expect("hash");
    let month_ago = store::usage::hour_floor(now - 30 * store::DAY_MS);
    let statements: [(&str, &[i64]); 5] = [
        (
            "INSERT INTO subscriptions \
                 (account_id, plan_id, status, period_start, period_end, created_at, updated_at) \
             SELECT id, (SELECT id FROM plans WHERE name = 'Starter'), 'active', $1, $2, $1, $1 \
             FROM accounts WHERE email LIKE 'seed%'",
            &[now - store::DAY_MS, now + 29 * store::DAY_MS],
        ),
        (
            "WITH RECURSIVE h(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM h WHERE k < 119) \
             INSERT INTO usage_hourly \
                 (account_id, hour_start, exit_id, country, bytes_up, bytes_down, requests, errors) \
             SELECT a.id, $1 + k * CAST(21600000 AS BIGINT), 0, \
                    CASE WHEN k % 3 = 0 THEN 'ng' ELSE 'gb' END, \
                    (a.id * 7919 + k * 104729) % 1000000, (a.id * 104729 + k * 7919) % 9000000, \
                    1 + (a.id + k) % 50, (a.id + k) % 3 \
             FROM accounts a CROSS JOIN h WHERE a.email LIKE 'seed%'",
            &[month_ago],
        ),
        (
            "WITH RECURSIVE d(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM d WHERE k < 29) \
             INSERT INTO usage_errors_hourly (account_id, hour_start, code, count) \
             SELECT a.id, $1 + k * CAST(86400000 AS BIGINT), 'upstream_failed', 1 + a.id % 4 \
             FROM accounts a CROSS JOIN d WHERE a.email LIKE 'seed%'",
            &[month_ago],
        ),
        (
            "WITH RECURSIVE d(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM d WHERE k < 29) \
             INSERT INTO usage_sessions_hourly \
                 (account_id, hour_start, session, bytes_up, bytes_down, requests, errors) \
             SELECT a.id, $1 + k * CAST(86400000 AS BIGINT), 's' || CAST(k AS TEXT), \
                    1000 + a.id, 20000 + k, 3, 0 \
             FROM accounts a CROSS JOIN d WHERE a.email LIKE 'seed%'",
            &[month_ago],
        ),
        (
            "INSERT INTO activity (account_id, kind, detail, ip, created_at) \
             SELECT id, 'auth.login', '{}', '203.0.113.7', $1 \
             FROM accounts WHERE email LIKE 'seed%'",
            &[now - store::HOUR_MS],
        ),
    ];
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
         INSERT INTO accounts (email, password_hash, role, created_at, updated_at) \
         SELECT 'seed' || substr(CAST(10000 + i AS TEXT), 2) || '@example.com', $2, \
                'customer', $3, $3 \
         FROM n",
    )
    .bind(SEEDED_ACCOUNTS)
    .bind(&hash)
    .bind(now - 40 * store::DAY_MS)
    .execute(db.pool())
    .await
    .expect("seed accounts");
    for (sql, values) in statements {
        let mut query = sqlx::query(sql);
        for value in values {
            query = query.bind(*value);
        }
        query.execute(db.pool()).await.expect(sql);
    }
}
