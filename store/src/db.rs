//! `Db`: the connection pools chosen by the database URL, and the migration runner.

use std::str::FromStr;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migrate, Migrator};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::sealing::Keyring;
use crate::{Result, StoreError, secrets};

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");

/// Run on every new SQLite connection. `busy_timeout` comes first so the switch to WAL waits
/// for a lock instead of failing when another connection holds one.
const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA busy_timeout = 5000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
];

const SQLITE_MAX_CONNECTIONS: u32 = 8;
const POSTGRES_MAX_CONNECTIONS: u32 = 25;
const POSTGRES_MIN_CONNECTIONS: u32 = 5;
/// Every dashboard request reads its session here, and sign-ins and keep-alives write one.
/// The pool is separate from the main one, so a queue of slow writes there cannot stop people
/// from being recognised; 4 ran dry at 1,000 signed-in people when commits slowed down.
/// Connections open on demand, so an idle node holds few.
const SQLITE_SESSION_MAX_CONNECTIONS: u32 = 4;
const POSTGRES_SESSION_MAX_CONNECTIONS: u32 = 12;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_LIFETIME: Duration = Duration::from_secs(5 * 60);
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// Which engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A SQLite file (`sqlite://path`).
    Sqlite,
    /// A PostgreSQL server (`postgres://…`).
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// A snapshot of the main pool, for `/health/detailed` and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PoolStats {
    /// Open connections, idle or in use.
    pub size: u32,
    /// Open connections waiting for work.
    pub idle: u32,
    /// The most connections the pool will open.
    pub max: u32,
}

/// A concrete pool on the same database for tower-sessions-sqlx-store, which has no `Any`
/// store. The session table itself is created by our migrations.
#[derive(Debug, Clone)]
pub enum SessionPool {
    /// For `tower_sessions_sqlx_store::SqliteStore` (table `tower_sessions`).
    Sqlite(SqlitePool),
    /// For `tower_sessions_sqlx_store::PostgresStore` (table `tower_sessions.session`).
    Postgres(PgPool),
}

/// The database: the `Any` pool every store function uses, plus the session pool, and the
/// [`Keyring`] that seals secrets at rest. Cloning is cheap and shares the pools.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    pool: AnyPool,
    sessions: SessionPool,
    keyring: Keyring,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.inner.backend)
            .field("pool", &self.pool_stats())
            .field("keyring", &self.inner.keyring)
            .finish()
    }
}

impl Db {
    /// Opens the database named by `url`: `sqlite://path` (relative or absolute; the file and
    /// its directory are created if missing) or `postgres://…` / `postgresql://…`.
    ///
    /// Fails with `Config` on any other scheme and when the database cannot be reached, in one
    /// line that never shows a password from the URL.
    ///
    /// Secrets are sealed with [`Keyring::development`] until [`Db::with_keyring`] gives the
    /// configured keys: the service and every command do so right after connecting.
    pub async fn connect(url: &str) -> Result<Db> {
        install_drivers();
        let url = url.trim();
        let db = match parse_target(url)? {
            Target::Sqlite { path, url: full } => {
                if let Some(dir) = std::path::Path::new(&path).parent()
                    && !dir.as_os_str().is_empty()
                {
                    tokio::fs::create_dir_all(dir).await.map_err(|e| {
                        StoreError::Config(format!(
                            "cannot create the directory {} for {}: {e}",
                            dir.display(),
                            redact_url(url)
                        ))
                    })?;
                }
                connect_sqlite(&full).await?
            }
            Target::Postgres => connect_postgres(url).await?,
        };
        tracing::info!(backend = %db.backend(), url = %redact_url(url), "database connected");
        Ok(db)
    }

    /// This database with `keyring` sealing and opening its secrets (sharing the pools).
    pub fn with_keyring(self, keyring: Keyring) -> Db {
        let inner = &self.inner;
        Db {
            inner: Arc::new(Inner {
                backend: inner.backend,
                pool: inner.pool.clone(),
                sessions: inner.sessions.clone(),
                keyring,
            }),
        }
    }

    /// The keys sealing secrets at rest.
    pub fn keyring(&self) -> &Keyring {
        &self.inner.keyring
    }

    /// The engine behind this database.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The `Any` pool every store function runs on.
    pub fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    /// The concrete pool for the session store.
    pub fn session_pool(&self) -> &SessionPool {
        &self.inner.sessions
    }

    /// Size, idle count and maximum of the main pool.
    pub fn pool_stats(&self) -> PoolStats {
        let pool = &self.inner.pool;
        PoolStats {
            size: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            max: pool.options().get_max_connections(),
        }
    }

    fn migrator(&self) -> &'static Migrator {
        match self.inner.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        }
    }

    /// Applies every pending migration, then seals any secret still stored in plaintext (the
    /// data half of migration 0008, which SQL cannot do). Does nothing when both are current.
    pub async fn migrate(&self) -> Result<()> {
        self.migrator().run(&self.inner.pool).await?;
        let sealed = secrets::seal_plaintext(self).await?;
        if sealed > 0 {
            tracing::info!(sealed, "sealed plaintext secrets at rest");
        }
        Ok(())
    }

    /// Reverts the newest applied migration and returns its version, or `None` when no
    /// migration is applied.
    pub async fn revert_last(&self) -> Result<Option<i64>> {
        let Some(last) = self.applied_versions().await?.into_iter().max() else {
            return Ok(None);
        };
        if last == secrets::SEALED_SECRETS_MIGRATION {
            // SQL cannot decrypt: the secrets go back to plaintext before the schema does.
            let unsealed = secrets::unseal_all(self).await?;
            tracing::info!(unsealed, "unsealed secrets for the schema before 0008");
        }
        // `undo` reverts every applied migration above the target: only `last` is.
        self.migrator().undo(&self.inner.pool, last - 1).await?;
        if self.applied_versions().await?.contains(&last) {
            return Err(StoreError::Invalid(format!(
                "migration {last} has no down script"
            )));
        }
        Ok(Some(last))
    }

    /// How many migrations are not applied yet (a failed one counts too): 0 when the schema
    /// is current. `/ready` reports not ready until it is.
    pub async fn pending_migrations(&self) -> Result<usize> {
        let mut conn = self.inner.pool.acquire().await?;
        conn.ensure_migrations_table().await?;
        let dirty = conn.dirty_version().await?;
        let applied: Vec<i64> = conn
            .list_applied_migrations()
            .await?
            .into_iter()
            .map(|m| m.version)
            .filter(|v| Some(*v) != dirty)
            .collect();
        Ok(self
            .migrator()
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .filter(|m| !applied.contains(&m.version))
            .count())
    }

    async fn applied_versions(&self) -> Result<Vec<i64>> {
        let mut conn = self.inner.pool.acquire().await?;
        conn.ensure_migrations_table().await?;
        Ok(conn
            .list_applied_migrations()
            .await?
            .into_iter()
            .map(|m| m.version)
            .collect())
    }

    /// One `SELECT 1` round trip; returns how long it took.
    pub async fn ping(&self) -> Result<Duration> {
        let start = Instant::now();
        let query = sqlx::query_scalar::<_, i64>("SELECT 1").fetch_one(&self.inner.pool);
        match tokio::time::timeout(PING_TIMEOUT, query).await {
            Ok(Ok(_)) => Ok(start.elapsed()),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(StoreError::Database(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "database ping timed out",
            )))),
        }
    }

    /// Closes both pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.inner.pool.close().await;
        match &self.inner.sessions {
            SessionPool::Sqlite(pool) => pool.close().await,
            SessionPool::Postgres(pool) => pool.close().await,
        }
    }
}

/// The file a `sqlite://PATH` URL names, `None` for a PostgreSQL URL, and the same error as
/// [`Db::connect`] for anything else: for tools that work on the file itself (a restore).
pub fn sqlite_file(url: &str) -> Result<Option<std::path::PathBuf>> {
    match parse_target(url.trim())? {
        Target::Sqlite { path, .. } => Ok(Some(std::path::PathBuf::from(path))),
        Target::Postgres => Ok(None),
    }
}

pub(crate) fn install_drivers() {
    static DRIVERS: Once = Once::new();
    DRIVERS.call_once(sqlx::any::install_default_drivers);
}

enum Target {
    /// `path` as written in the URL; `url` with `mode=rwc` added unless a mode was given.
    Sqlite {
        path: String,
        url: String,
    },
    Postgres,
}

fn parse_target(url: &str) -> Result<Target> {
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase())
        .unwrap_or_default();
    match scheme.as_str() {
        "postgres" | "postgresql" => Ok(Target::Postgres),
        "sqlite" => {
            let Some(rest) = url.get("sqlite://".len()..).filter(|_| {
                url.get(..9)
                    .is_some_and(|p| p.eq_ignore_ascii_case("sqlite://"))
            }) else {
                return Err(StoreError::Config(format!(
                    "unsupported SQLite URL `{}`: use sqlite://PATH (in-memory databases are \
                     not supported)",
                    redact_url(url)
                )));
            };
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            if path.is_empty() || path == ":memory:" || query.contains("mode=memory") {
                return Err(StoreError::Config(format!(
                    "unsupported SQLite URL `{}`: use sqlite://PATH to a file",
                    redact_url(url)
                )));
            }
            let query = if query.split('&').any(|kv| kv.starts_with("mode=")) {
                query.to_owned()
            } else if query.is_empty() {
                "mode=rwc".to_owned()
            } else {
                format!("{query}&mode=rwc")
            };
            Ok(Target::Sqlite {
                path: path.to_owned(),
                url: format!("sqlite://{path}?{query}"),
            })
        }
        "" => Err(StoreError::Config(
            "database URL has no scheme: use sqlite://PATH or postgres://USER@HOST/DB".to_owned(),
        )),
        other => Err(StoreError::Config(format!(
            "unsupported database URL scheme `{other}`: use sqlite://PATH or postgres://USER@HOST/DB"
        ))),
    }
}

async fn connect_sqlite(url: &str) -> Result<Db> {
    let pool = AnyPoolOptions::new()
        .max_connections(SQLITE_MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                for pragma in SQLITE_PRAGMAS {
                    sqlx::query(pragma).execute(&mut *conn).await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(|e| connect_error(Backend::Sqlite, url, &e))?;

    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| connect_error(Backend::Sqlite, url, &e))?
        .create_if_missing(true)
        .busy_timeout(BUSY_TIMEOUT)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true);
    let sessions = SqlitePoolOptions::new()
        .max_connections(SQLITE_SESSION_MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|e| connect_error(Backend::Sqlite, url, &e))?;

    Ok(Db {
        inner: Arc::new(Inner {
            backend: Backend::Sqlite,
            pool,
            sessions: SessionPool::Sqlite(sessions),
            keyring: Keyring::development(),
        }),
    })
}

async fn connect_postgres(url: &str) -> Result<Db> {
    let pool = AnyPoolOptions::new()
        .max_connections(POSTGRES_MAX_CONNECTIONS)
        .min_connections(POSTGRES_MIN_CONNECTIONS)
        .max_lifetime(MAX_LIFETIME)
        .idle_timeout(IDLE_TIMEOUT)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect(url)
        .await
        .map_err(|e| connect_error(Backend::Postgres, url, &e))?;
    let sessions = PgPoolOptions::new()
        .max_connections(POSTGRES_SESSION_MAX_CONNECTIONS)
        .max_lifetime(MAX_LIFETIME)
        .idle_timeout(IDLE_TIMEOUT)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect(url)
        .await
        .map_err(|e| connect_error(Backend::Postgres, url, &e))?;
    Ok(Db {
        inner: Arc::new(Inner {
            backend: Backend::Postgres,
            pool,
            sessions: SessionPool::Postgres(sessions),
            keyring: Keyring::development(),
        }),
    })
}

/// A one-line `Config` error that names the database without its password.
pub(crate) fn connect_error(backend: Backend, url: &str, err: &sqlx::Error) -> StoreError {
    let mut detail = err
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if let Some(password) = url_password(url).filter(|p| !p.is_empty()) {
        detail = detail.replace(&password, "***");
    }
    StoreError::Config(format!(
        "cannot connect to the {backend} database at {}: {detail}",
        redact_url(url)
    ))
}

/// The password in a URL's user info, if any.
fn url_password(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    userinfo.split_once(':').map(|(_, p)| p.to_owned())
}

/// `url` with any password (in the user info or a `password=` query parameter) replaced by
/// `***`, safe for logs and error messages. Works on strings that are not valid URLs too.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '#']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(authority_end);
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _)) => format!("{user}:***@{host}"),
                    None => format!("{userinfo}@{host}"),
                },
                None => authority.to_owned(),
            };
            format!("{scheme}://{authority}{tail}")
        }
        None => base.to_owned(),
    };
    if let Some(query) = query {
        let redacted: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => kv.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&redacted.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_user_info_and_query_passwords() {
        assert_eq!(
            redact_url("postgres://app:s3cr%40t@db.example:5432/atl?sslmode=require"),
            "postgres://app:***@db.example:5432/atl?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://db/atl?user=a&password=hunter2"),
            "postgres://db/atl?user=a&password=***"
        );
        assert_eq!(
            redact_url("postgres://root@127.0.0.1/test"),
            "postgres://root@127.0.0.1/test"
        );
        assert_eq!(
            redact_url("sqlite://data/atlantic.db"),
            "sqlite://data/atlantic.db"
        );
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn sqlite_urls_get_mode_rwc_unless_given() {
        let Ok(Target::Sqlite { path, url }) = parse_target("sqlite://data/atlantic.db") else {
            panic!("expected a sqlite target");
        };
        assert_eq!(path, "data/atlantic.db");
        assert_eq!(url, "sqlite://data/atlantic.db?mode=rwc");
        let Ok(Target::Sqlite { url, .. }) = parse_target("sqlite:///abs/x.db?mode=ro") else {
            panic!("expected a sqlite target");
        };
        assert_eq!(url, "sqlite:///abs/x.db?mode=ro");
    }

    #[test]
    fn unsupported_schemes_are_named() {
        for (url, needle) in [
            ("mysql://root@localhost/db", "`mysql`"),
            ("data/atlantic.db", "no scheme"),
            ("sqlite::memory:", "sqlite://PATH"),
        ] {
            let Err(StoreError::Config(message)) = parse_target(url) else {
                panic!("{url} should be refused");
            };
            assert!(message.contains(needle), "{message}");
            assert!(message.contains("sqlite://"), "{message}");
        }
    }
}
