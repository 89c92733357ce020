//! Backups for operators: `atlantic backup create|prune|verify|restore` and the service's
//! backup gauges. A backup is one file (`atlantic-<UTC time>.sqlite` from `VACUUM INTO`, or
//! `.pgdump` from `pg_dump --format=custom`) and its manifest beside it (size, SHA-256, app
//! and migration versions, every table's rows and key checksum), taken online from one
//! consistent snapshot; or taken by the service itself (`ATLANTIC_BACKUP_EVERY`). The
//! database side (snapshots, census, readers) is `store::backup`.

mod compare;
mod create;
pub mod gauges;
mod manifest;
mod naming;
mod pg_tools;
mod prune;
mod restore;
mod retention;
mod schedule;
mod verify;

pub use create::create;
pub use prune::{Pruned, prune};
pub use restore::restore;
pub use retention::Retention;
pub use schedule::Scheduler;
pub use verify::verify;
