//! The backup gauges: `atlantic_backup_last_success_timestamp_seconds` and
//! `atlantic_backup_last_size_bytes`, from the newest row of `backups`. Backups are usually
//! taken by another process (cron, a systemd timer), so the serving process reads them from
//! the database, on the housekeeping loop, rather than knowing them itself. Never backed up:
//! both are 0, so an alert on the age of the last backup fires.

use std::sync::Once;

use store::Db;

/// Reads the newest backup and sets both gauges; a failure is logged and leaves them as they
/// were.
pub async fn refresh(db: &Db) {
    describe();
    match store::backups::latest(db).await {
        Ok(latest) => {
            let (at, size) = latest.map_or((0.0, 0.0), |b| {
                (b.created_at as f64 / 1000.0, b.size_bytes as f64)
            });
            metrics::gauge!("atlantic_backup_last_success_timestamp_seconds").set(at);
            metrics::gauge!("atlantic_backup_last_size_bytes").set(size);
        }
        Err(error) => tracing::warn!(%error, "reading the last backup for its metrics failed"),
    }
}

/// The gauges' help texts, once per process (after the recorder is installed).
fn describe() {
    static DESCRIBED: Once = Once::new();
    DESCRIBED.call_once(|| {
        metrics::describe_gauge!(
            "atlantic_backup_last_success_timestamp_seconds",
            metrics::Unit::Seconds,
            "When the newest completed backup's snapshot was taken (Unix time; 0: none recorded)"
        );
        metrics::describe_gauge!(
            "atlantic_backup_last_size_bytes",
            metrics::Unit::Bytes,
            "Size of the newest completed backup file"
        );
    });
}
