//! Backups of the real `atlantic` binary on SQLite and PostgreSQL: the restore drill (a month
//! of usage for 1,000 accounts backed up while traffic flows through the gateway, restored
//! into a new database, checked table by table against the manifest, served and signed in to,
//! with the restore time printed: `cargo test -p server --test backup drill -- --nocapture`)
//! ([`drill`]); what is refused and left untouched: a checksum mismatch, a damaged backup, a
//! target with tables, a missing `pg_dump` ([`refusals`]); retention deleting only our own
//! files ([`prune`]); the backup gauges on `/metrics` ([`metrics`]); the scheduled backup
//! ([`schedule`]).

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod drill;
mod metrics;
mod prune;
mod refusals;
mod schedule;
mod support;
