//! Fresh databases for tests (feature `test-support`): a SQLite file in its own temporary
//! directory, or a PostgreSQL database created for the test and dropped afterwards, even
//! when the test panics.
//!
//! PostgreSQL is found through `ATLANTIC_TEST_POSTGRES_URL` (default
//! `postgres://root@127.0.0.1:5432/test`), an admin URL allowed to create databases. If it
//! cannot be reached, [`TestDb::new`] fails the test when `CI=true` and otherwise prints a
//! warning and returns `None`, so the test passes vacuously on a laptop without PostgreSQL.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use rand::distr::{Alphanumeric, SampleString};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::{Db, redact_url};

/// The environment variable holding the PostgreSQL admin URL.
pub const POSTGRES_URL_ENV: &str = "ATLANTIC_TEST_POSTGRES_URL";
/// The admin URL used when the variable is not set.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://root@127.0.0.1:5432/test";
/// Prefix of every database the helper creates.
pub const DATABASE_PREFIX: &str = "atl_t_";

const ADMIN_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A fresh database on the test PostgreSQL server.
    Postgres,
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        })
    }
}

/// A database that exists for one test. Dropping it deletes it.
pub struct TestDb {
    db: Db,
    url: String,
    engine: Engine,
    cleanup: Option<Cleanup>,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb")
            .field("engine", &self.engine)
            .field("url", &redact_url(&self.url))
            .finish_non_exhaustive()
    }
}

enum Cleanup {
    Directory(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    /// A fresh, fully migrated database; `None` only for PostgreSQL when it is unreachable
    /// outside CI.
    pub async fn new(engine: Engine) -> Option<TestDb> {
        let test_db = Self::unmigrated(engine).await?;
        if let Err(err) = test_db.db.migrate().await {
            panic!("migrating the {engine} test database failed: {err}");
        }
        Some(test_db)
    }

    /// A fresh database without any migration applied.
    pub async fn unmigrated(engine: Engine) -> Option<TestDb> {
        match engine {
            Engine::Sqlite => Some(Self::sqlite().await),
            Engine::Postgres => Self::postgres().await,
        }
    }

    /// The connected database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Its URL, e.g. to start the whole server on it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The engine it runs on.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Closes the pools, then deletes the database. Dropping does the deletion too; closing
    /// first just avoids killing connections still in the pool.
    pub async fn close(self) {
        self.db.close().await;
    }

    async fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(format!("atlantic-test-{}", random_suffix()));
        if let Err(err) = std::fs::create_dir_all(&dir) {
            panic!("cannot create {}: {err}", dir.display());
        }
        let url = format!("sqlite://{}/atlantic.db", dir.display());
        let db = match Db::connect(&url).await {
            Ok(db) => db,
            Err(err) => panic!("cannot open the SQLite test database: {err}"),
        };
        TestDb {
            db,
            url,
            engine: Engine::Sqlite,
            cleanup: Some(Cleanup::Directory(dir)),
        }
    }

    async fn postgres() -> Option<TestDb> {
        let admin_url =
            std::env::var(POSTGRES_URL_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let mut admin = match connect_admin(&admin_url).await {
            Ok(conn) => conn,
            Err(why) => {
                let message = format!(
                    "PostgreSQL at {} is unreachable ({why}); set {POSTGRES_URL_ENV} to an \
                     admin URL",
                    redact_url(&admin_url)
                );
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("{message} (CI=true, so this test fails instead of skipping)");
                }
                eprintln!("\n!!!!! WARNING: {message}; SKIPPING this PostgreSQL test !!!!!\n");
                return None;
            }
        };
        let name = format!("{DATABASE_PREFIX}{}", random_suffix());
        if let Err(err) = sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
        {
            panic!("cannot create the test database {name}: {err}");
        }
        let _ = admin.close().await;
        // From here on the database exists: a panic below still drops it.
        let cleanup = Some(Cleanup::Postgres {
            admin_url: admin_url.clone(),
            name: name.clone(),
        });
        let url = match url::Url::parse(&admin_url) {
            Ok(mut url) => {
                url.set_path(&format!("/{name}"));
                url.to_string()
            }
            Err(err) => panic!("{POSTGRES_URL_ENV} is not a URL: {err}"),
        };
        let guard = PendingDrop(cleanup);
        let db = match Db::connect(&url).await {
            Ok(db) => db,
            Err(err) => panic!("cannot connect to the test database {name}: {err}"),
        };
        Some(TestDb {
            db,
            url,
            engine: Engine::Postgres,
            cleanup: guard.defuse(),
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(cleanup) = self.cleanup.take() {
            cleanup.run();
        }
    }
}

/// Runs the cleanup if construction panics before the `TestDb` exists.
struct PendingDrop(Option<Cleanup>);

impl PendingDrop {
    fn defuse(mut self) -> Option<Cleanup> {
        self.0.take()
    }
}

impl Drop for PendingDrop {
    fn drop(&mut self) {
        if let Some(cleanup) = self.0.take() {
            cleanup.run();
        }
    }
}

impl Cleanup {
    fn run(self) {
        match self {
            Cleanup::Directory(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            // Drop may run inside the test's runtime, even while it unwinds from a panic, so
            // the drop gets its own thread and runtime instead of blocking on the test's.
            Cleanup::Postgres { admin_url, name } => {
                let dropper = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    let result = match runtime {
                        Ok(rt) => rt.block_on(drop_database(&admin_url, &name)),
                        Err(err) => Err(err.to_string()),
                    };
                    if let Err(err) = result {
                        eprintln!("WARNING: could not drop the test database {name}: {err}");
                    }
                });
                let _ = dropper.join();
            }
        }
    }
}

async fn connect_admin(admin_url: &str) -> Result<PgConnection, String> {
    let options = PgConnectOptions::from_str(admin_url).map_err(|e| e.to_string())?;
    match tokio::time::timeout(ADMIN_CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err("connection timed out".to_owned()),
    }
}

async fn drop_database(admin_url: &str, name: &str) -> Result<(), String> {
    let mut admin = connect_admin(admin_url).await?;
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .map_err(|e| e.to_string())?;
    let _ = admin.close().await;
    Ok(())
}

/// Lower-case letters and digits: safe unquoted in a PostgreSQL identifier.
fn random_suffix() -> String {
    Alphanumeric
        .sample_string(&mut rand::rng(), 12)
        .to_ascii_lowercase()
}
