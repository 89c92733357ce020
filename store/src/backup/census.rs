//! A census of a database: every table's row count and a checksum of its primary keys, and
//! the newest migration applied. Taken from the snapshot a backup is made of, written into
//! its manifest, and taken again after a restore: equal censuses say every row came back.
//!
//! The checksum is SHA-256 over each row's key values as text (`CAST(… AS TEXT)`), a unit
//! separator after each value and a record separator after each row, in key order. Text keys
//! are ordered bytewise (`COLLATE "C"` on PostgreSQL, `BINARY` on SQLite), so the order does
//! not depend on the collation of the database restored into. A table without a primary key
//! is hashed over all its columns.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use crate::{Backend, Result};

/// The migrations table sqlx keeps, counted like any other.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// What a database holds, table by table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Census {
    /// The newest migration applied successfully; `None` before any.
    pub migration_version: Option<i64>,
    /// Every table, by name: `accounts`, or `schema.table` outside the current schema
    /// (`tower_sessions.session` on PostgreSQL).
    pub tables: BTreeMap<String, TableCensus>,
}

/// One table's rows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TableCensus {
    /// How many rows.
    pub rows: i64,
    /// The columns hashed: the primary key, in key order (every column without one).
    pub key_columns: Vec<String>,
    /// SHA-256 of the key values in key order, lower-case hex.
    pub key_sha256: String,
}

/// A table as the census finds it: its schema (PostgreSQL) and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Table {
    schema: Option<String>,
    name: String,
    /// How the census names it.
    pub(crate) label: String,
}

impl Table {
    fn quoted(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{}.{}", quote(schema), quote(&self.name)),
            None => quote(&self.name),
        }
    }
}

/// A key column and whether its values are text (ordered bytewise).
struct Column {
    name: String,
    text: bool,
}

/// Counts and hashes every table on `conn`, which should see one consistent snapshot (a
/// repeatable-read transaction, or a file nobody writes).
pub async fn take(conn: &mut AnyConnection, backend: Backend) -> Result<Census> {
    let mut tables = BTreeMap::new();
    let mut migration_version = None;
    for table in list_tables(conn, backend).await? {
        if table.label == MIGRATIONS_TABLE {
            migration_version = sqlx::query_scalar::<_, Option<i64>>(
                "SELECT MAX(version) FROM _sqlx_migrations WHERE success",
            )
            .fetch_one(&mut *conn)
            .await?;
        }
        let census = table_census(conn, backend, &table).await?;
        tables.insert(table.label, census);
    }
    Ok(Census {
        migration_version,
        tables,
    })
}

/// Every ordinary table: SQLite's own (`sqlite_*`) left out, and on PostgreSQL every schema
/// but the system ones.
pub(crate) async fn list_tables(conn: &mut AnyConnection, backend: Backend) -> Result<Vec<Table>> {
    match backend {
        Backend::Sqlite => {
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
            )
            .fetch_all(&mut *conn)
            .await?;
            Ok(names
                .into_iter()
                .map(|name| Table {
                    schema: None,
                    label: name.clone(),
                    name,
                })
                .collect())
        }
        Backend::Postgres => {
            let current: String = sqlx::query_scalar("SELECT CAST(current_schema() AS TEXT)")
                .fetch_one(&mut *conn)
                .await?;
            let rows: Vec<(String, String)> = sqlx::query_as(
                "SELECT CAST(table_schema AS TEXT), CAST(table_name AS TEXT) \
                 FROM information_schema.tables \
                 WHERE table_type = 'BASE TABLE' \
                   AND table_schema NOT IN ('pg_catalog', 'information_schema') \
                   AND table_schema NOT LIKE 'pg\\_%' \
                 ORDER BY table_schema, table_name",
            )
            .fetch_all(&mut *conn)
            .await?;
            Ok(rows
                .into_iter()
                .map(|(schema, name)| Table {
                    label: if schema == current {
                        name.clone()
                    } else {
                        format!("{schema}.{name}")
                    },
                    schema: Some(schema),
                    name,
                })
                .collect())
        }
    }
}

async fn table_census(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &Table,
) -> Result<TableCensus> {
    let columns = key_columns(conn, backend, table).await?;
    let select = columns
        .iter()
        .map(|c| format!("CAST({} AS TEXT)", quote(&c.name)))
        .collect::<Vec<_>>()
        .join(", ");
    let order = columns
        .iter()
        .map(|c| match (c.text, backend) {
            (true, Backend::Postgres) => format!("{} COLLATE \"C\"", quote(&c.name)),
            (true, Backend::Sqlite) => format!("{} COLLATE BINARY", quote(&c.name)),
            (false, _) => quote(&c.name),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("SELECT {select} FROM {} ORDER BY {order}", table.quoted());
    let mut hasher = Sha256::new();
    let mut rows: i64 = 0;
    let mut stream = sqlx::query(&sql).fetch(&mut *conn);
    while let Some(row) = stream.try_next().await? {
        for i in 0..columns.len() {
            let value: Option<String> = row.try_get(i)?;
            hasher.update(value.as_deref().unwrap_or("\u{0}").as_bytes());
            hasher.update([0x1f]);
        }
        hasher.update([0x1e]);
        rows += 1;
    }
    Ok(TableCensus {
        rows,
        key_columns: columns.into_iter().map(|c| c.name).collect(),
        key_sha256: hex(&hasher.finalize()),
    })
}

/// The table's primary key columns in key order, or all its columns when it has none.
async fn key_columns(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &Table,
) -> Result<Vec<Column>> {
    let (key_sql, every_sql, name) = match backend {
        Backend::Sqlite => (
            "SELECT name, type FROM pragma_table_info($1) WHERE pk > 0 ORDER BY pk",
            "SELECT name, type FROM pragma_table_info($1) ORDER BY cid",
            table.name.clone(),
        ),
        Backend::Postgres => (
            "SELECT CAST(a.attname AS TEXT), format_type(a.atttypid, a.atttypmod) \
             FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = CAST($1 AS regclass) AND i.indisprimary \
             ORDER BY array_position(CAST(i.indkey AS int2[]), a.attnum)",
            "SELECT CAST(attname AS TEXT), format_type(atttypid, atttypmod) \
             FROM pg_attribute \
             WHERE attrelid = CAST($1 AS regclass) AND attnum > 0 AND NOT attisdropped \
             ORDER BY attnum",
            table.quoted(),
        ),
    };
    let mut columns: Vec<(String, String)> = sqlx::query_as(key_sql)
        .bind(&name)
        .fetch_all(&mut *conn)
        .await?;
    if columns.is_empty() {
        columns = sqlx::query_as(every_sql)
            .bind(&name)
            .fetch_all(&mut *conn)
            .await?;
    }
    Ok(columns
        .into_iter()
        .map(|(name, kind)| {
            let kind = kind.to_ascii_lowercase();
            Column {
                name,
                text: kind.contains("text") || kind.contains("char") || kind.contains("clob"),
            }
        })
        .collect())
}

/// `name` as a double-quoted identifier (both engines accept them).
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}
