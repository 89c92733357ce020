//! Sessions live in our own database, on either engine: this store picks the sqlx session
//! store that matches the database URL and delegates to it. The tables come from our
//! migrations, not from the stores' own `migrate()`.

use async_trait::async_trait;
use store::{Db, SessionPool};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

/// The session store for whichever engine the database runs on.
#[derive(Clone, Debug)]
pub enum DbSessionStore {
    /// SQLite: table `tower_sessions`.
    Sqlite(SqliteStore),
    /// PostgreSQL: table `tower_sessions.session`.
    Postgres(PostgresStore),
}

impl DbSessionStore {
    /// The store over the database's concrete session pool.
    pub fn new(db: &Db) -> DbSessionStore {
        match db.session_pool() {
            SessionPool::Sqlite(pool) => DbSessionStore::Sqlite(SqliteStore::new(pool.clone())),
            SessionPool::Postgres(pool) => {
                DbSessionStore::Postgres(PostgresStore::new(pool.clone()))
            }
        }
    }
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            DbSessionStore::Sqlite(s) => s.create(record).await,
            DbSessionStore::Postgres(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            DbSessionStore::Sqlite(s) => s.save(record).await,
            DbSessionStore::Postgres(s) => s.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            DbSessionStore::Sqlite(s) => s.load(id).await,
            DbSessionStore::Postgres(s) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            DbSessionStore::Sqlite(s) => s.delete(id).await,
            DbSessionStore::Postgres(s) => s.delete(id).await,
        }
    }
}

#[async_trait]
impl ExpiredDeletion for DbSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            DbSessionStore::Sqlite(s) => s.delete_expired().await,
            DbSessionStore::Postgres(s) => s.delete_expired().await,
        }
    }
}
