//! What backups need from the database: a consistent snapshot to copy (SQLite's
//! `VACUUM INTO`, or a PostgreSQL snapshot exported to `pg_dump`), the census that goes into
//! a backup's manifest (row counts and key checksums of every table, from that same
//! snapshot), and a reader for the files and databases a backup is checked or restored
//! against. Files, manifests and the `pg_dump`/`pg_restore` processes are the server's.

mod census;
mod postgres_snapshot;
mod reader;
mod sqlite_copy;

pub use census::{Census, TableCensus, hex};
pub use postgres_snapshot::PostgresSnapshot;
pub use reader::{DatabaseReader, SqliteOpen};
pub use sqlite_copy::vacuum_into;
