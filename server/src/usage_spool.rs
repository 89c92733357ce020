//! The gateway's append-only spool of metered usage: counts survive a crash of the process.
//!
//! Every flush interval the gateway drains its counters into a batch with an id
//! ([`proxy::UsageBatch`]) and hands the counts to [`UsageSpool::keep`], which appends them to
//! this process's spool file and syncs it to disk before anything is sent to the database.
//! When the database confirms a batch, [`UsageSpool::written`] marks it done (and empties the
//! file once nothing is outstanding). So after a `kill -9`, a power cut or an out-of-memory
//! kill, the counts lost are at most those of the last flush interval (one second), not
//! everything the database had not confirmed — which during a database outage may be minutes.
//!
//! Each process writes its own file (`usage-<ms>-<pid>.spool`), holding an exclusive lock on
//! it while it lives. A file nobody holds is an orphan: the process that wrote it is gone.
//! Any gateway on the same database adopts orphans ([`replay_orphans`], at start and every
//! minute): it writes their outstanding batches under their own ids (the database skips a
//! batch whose id it already has, see `store::usage::record_batch`, so a batch that was
//! written but not yet marked done is not counted twice) and deletes the file. The first line
//! names the database the file belongs to; files of another database are left alone.
//!
//! Lines are JSON: a header, then `add` (counts for a batch id; one id may get several, as
//! counts drained while the database is down are added to the newest batch not yet offered)
//! and `done`. A line torn by the crash is skipped: it was never synced, so it is within the
//! interval that may be lost.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proxy::UsageRecord;
use store::Db;
use store::usage::{self, Recorded, UsageDelta};
use tokio_util::sync::CancellationToken;

const SPOOL_FAILURES: &str = "atlantic_usage_spool_failures_total";
const REPLAYED: &str = "atlantic_usage_spool_replayed_batches_total";
/// How often a gateway looks for spools left by processes that died.
const ADOPT_EVERY: Duration = Duration::from_secs(60);
const FORMAT: u32 = 1;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line {
    Header {
        format: u32,
        database: String,
    },
    Add {
        batch: String,
        deltas: Vec<UsageDelta>,
    },
    Done {
        batch: String,
    },
}

/// This process's spool file.
pub struct UsageSpool {
    path: PathBuf,
    file: Arc<Mutex<File>>,
    header_len: u64,
    outstanding: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for UsageSpool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageSpool")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Which database a spool belongs to, from its URL without credentials: the SQLite file's
/// absolute path, or PostgreSQL's host, port and database name.
pub fn database_identity(database_url: &str) -> String {
    if let Some(rest) = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
    {
        let path = rest.split('?').next().unwrap_or(rest);
        let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| PathBuf::from(path));
        return format!("sqlite:{}", absolute.display());
    }
    match url::Url::parse(database_url) {
        Ok(url) => format!(
            "postgres:{}:{}{}",
            url.host_str().unwrap_or("localhost"),
            url.port().unwrap_or(5432),
            url.path()
        ),
        Err(_) => "unknown".to_owned(),
    }
}

fn describe() {
    metrics::describe_counter!(
        SPOOL_FAILURES,
        "Writes to the gateway's usage spool that failed (counts then live in memory only)"
    );
    metrics::describe_counter!(
        REPLAYED,
        "Usage batches replayed from spools left by processes that stopped without flushing"
    );
    metrics::counter!(SPOOL_FAILURES).absolute(0);
    metrics::counter!(REPLAYED).absolute(0);
}

impl UsageSpool {
    /// Creates this process's spool file in `dir` (made if missing) for the database
    /// `database`, and locks it.
    pub fn create(dir: &Path, database: &str) -> std::io::Result<UsageSpool> {
        describe();
        std::fs::create_dir_all(dir)?;
        let name = format!("usage-{}-{}", store::now_ms(), std::process::id());
        // Written and locked under a name no adopter looks at, then renamed: nobody can take
        // the file between its creation and our lock.
        let making = dir.join(format!("{name}.new"));
        let path = dir.join(format!("{name}.spool"));
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .open(&making)?;
        lock_exclusively(&file)?;
        let mut header = serde_json::to_vec(&Line::Header {
            format: FORMAT,
            database: database.to_owned(),
        })?;
        header.push(b'\n');
        file.write_all(&header)?;
        file.sync_all()?;
        std::fs::rename(&making, &path)?;
        // the new name must survive a crash too
        File::open(dir)?.sync_all()?;
        Ok(UsageSpool {
            path,
            file: Arc::new(Mutex::new(file)),
            header_len: header.len() as u64,
            outstanding: Mutex::default(),
        })
    }

    /// Appends counts drained for `batch` and syncs them to disk. A failure is logged and
    /// counted; the counts still go to the database from memory.
    pub async fn keep(&self, batch: &str, records: &[UsageRecord]) {
        let line = Line::Add {
            batch: batch.to_owned(),
            deltas: records
                .iter()
                .cloned()
                .map(crate::gateway::usage_delta)
                .collect(),
        };
        if let Ok(mut outstanding) = self.outstanding.lock() {
            outstanding.insert(batch.to_owned());
        }
        let file = self.file.clone();
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut bytes = serde_json::to_vec(&line)?;
            bytes.push(b'\n');
            let mut file = file.lock().map_err(|_| std::io::Error::other("poisoned"))?;
            file.write_all(&bytes)?;
            file.sync_data()
        })
        .await;
        self.check("appending usage to the spool", written);
    }

    /// Marks `batch` written; once nothing is outstanding the file is emptied to its header.
    /// Not synced: a `done` lost in a crash only makes the batch be offered again, and the
    /// database skips it by its id.
    pub async fn written(&self, batch: &str) {
        let empty = match self.outstanding.lock() {
            Ok(mut outstanding) => {
                outstanding.remove(batch);
                outstanding.is_empty()
            }
            Err(_) => false,
        };
        let line = Line::Done {
            batch: batch.to_owned(),
        };
        let file = self.file.clone();
        let header_len = self.header_len;
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut file = file.lock().map_err(|_| std::io::Error::other("poisoned"))?;
            if empty {
                file.set_len(header_len)
            } else {
                let mut bytes = serde_json::to_vec(&line)?;
                bytes.push(b'\n');
                file.write_all(&bytes)
            }
        })
        .await;
        self.check("marking a usage batch done in the spool", written);
    }

    /// Logs and counts a failed spool write (or its blocking task's failure).
    fn check(&self, what: &str, outcome: Result<std::io::Result<()>, tokio::task::JoinError>) {
        let error = match outcome {
            Ok(Ok(())) => return,
            Ok(Err(error)) => error.to_string(),
            Err(error) => error.to_string(),
        };
        metrics::counter!(SPOOL_FAILURES).increment(1);
        tracing::error!(spool = %self.path.display(), %error, "{what} failed");
    }
}

impl Drop for UsageSpool {
    /// A clean stop with nothing outstanding leaves no file behind.
    fn drop(&mut self) {
        let nothing_left = self.outstanding.lock().is_ok_and(|o| o.is_empty());
        if nothing_left {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Takes the file's exclusive `flock` without waiting: it is held until the file is closed
/// (or the process dies), and fails at once if another open file holds it.
fn lock_exclusively(file: &File) -> std::io::Result<()> {
    rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        .map_err(std::io::Error::from)
}

/// A spool file left by a process that is gone, locked by us while we replay it.
struct Orphan {
    path: PathBuf,
    _lock: File,
    /// Outstanding batches in the order they were first written.
    batches: Vec<(String, Vec<UsageDelta>)>,
}

/// Reads a spool file nobody holds, if it belongs to `database`.
fn adopt(path: &Path, database: &str) -> std::io::Result<Option<Orphan>> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    if lock_exclusively(&file).is_err() {
        return Ok(None); // its process is alive, or another gateway adopts it now
    }
    file.rewind()?;
    let mut lines = BufReader::new(&file).lines();
    let header = lines.next().transpose()?.unwrap_or_default();
    match serde_json::from_str::<Line>(&header) {
        Ok(Line::Header {
            format: FORMAT,
            database: of,
        }) if of == database => {}
        _ => return Ok(None),
    }
    let mut batches: Vec<(String, Vec<UsageDelta>)> = Vec::new();
    let mut done = HashSet::new();
    for line in lines {
        let line = line?;
        match serde_json::from_str::<Line>(&line) {
            Ok(Line::Add { batch, deltas }) => match batches.iter_mut().find(|b| b.0 == batch) {
                Some(b) => b.1.extend(deltas),
                None => batches.push((batch, deltas)),
            },
            Ok(Line::Done { batch }) => {
                done.insert(batch);
            }
            Ok(Line::Header { .. }) => {}
            Err(error) => {
                tracing::warn!(spool = %path.display(), %error, "skipping a torn spool line");
            }
        }
    }
    batches.retain(|(id, _)| !done.contains(id));
    Ok(Some(Orphan {
        path: path.to_owned(),
        _lock: file,
        batches,
    }))
}

/// Orphaned spool files in `dir` that belong to `database`.
fn orphans(dir: &Path, database: &str) -> Vec<Orphan> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "spool") {
            continue;
        }
        match adopt(&path, database) {
            Ok(Some(orphan)) => found.push(orphan),
            Ok(None) => {}
            Err(error) => tracing::warn!(spool = %path.display(), %error, "cannot read a spool"),
        }
    }
    found
}

/// Writes one orphan's outstanding batches, retrying each until the database takes it or
/// `stop`; deletes the file when all are in. Returns how many batches were new.
async fn replay(db: &Db, orphan: Orphan, stop: &CancellationToken) -> usize {
    let mut new = 0;
    for (id, deltas) in &orphan.batches {
        let mut wait = Duration::from_millis(500);
        loop {
            match usage::record_batch(db, id, deltas, store::now_ms()).await {
                Ok(Recorded::Written) => {
                    new += 1;
                    metrics::counter!(REPLAYED).increment(1);
                    break;
                }
                Ok(Recorded::AlreadyWritten) => break,
                Err(store::StoreError::Invalid(reason)) => {
                    tracing::error!(spool = %orphan.path.display(), batch = id, reason, "a spooled usage batch is invalid; skipped");
                    break;
                }
                Err(error) => {
                    tracing::warn!(spool = %orphan.path.display(), %error, "replaying a spooled usage batch failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = stop.cancelled() => return new,
                    }
                    wait = (wait * 2).min(Duration::from_secs(15));
                }
            }
        }
    }
    if let Err(error) = std::fs::remove_file(&orphan.path) {
        tracing::warn!(spool = %orphan.path.display(), %error, "removing a replayed spool failed");
    }
    new
}

/// Adopts and replays the spools in `dir` left by processes that died, now and every minute,
/// until `stop`.
pub async fn replay_orphans(db: Db, dir: PathBuf, database: String, stop: CancellationToken) {
    loop {
        let found = {
            let (dir, database) = (dir.clone(), database.clone());
            tokio::task::spawn_blocking(move || orphans(&dir, &database))
                .await
                .unwrap_or_default()
        };
        for orphan in found {
            let path = orphan.path.clone();
            let outstanding = orphan.batches.len();
            let new = replay(&db, orphan, &stop).await;
            tracing::info!(
                spool = %path.display(),
                outstanding,
                new,
                "replayed the usage spool of a process that stopped without flushing"
            );
        }
        tokio::select! {
            () = tokio::time::sleep(ADOPT_EVERY) => {}
            () = stop.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests;
