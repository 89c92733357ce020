//! `kill -9` of the service during traffic, measured: the metered bytes lost are at most one
//! second of the traffic, both with the database up and when the kill comes during a
//! database outage (when usage waits for the database, in memory and in the spool). The next
//! start replays what the dead process spooled, exactly once.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::common::{fake_site, free_port, until_ready};
use crate::private_postgres::PrivatePostgres;
use crate::traffic::{Route, Traffic, echo_origin};
use crate::{prepare_customer, stored_bytes};

const EMAIL: &str = "crash@example.com";
/// Tunnels, chunk and pace: about 3 MB/s each way.
const WORKERS: usize = 4;
const CHUNK: usize = 16 * 1024;
const PACE: Duration = Duration::from_millis(20);

/// The real binary, serving on fresh ports with its spool in `spool`.
struct Running {
    child: Child,
    http: SocketAddr,
    socks: SocketAddr,
}

async fn start(url: &str, spool: &Path, site: &Path) -> Running {
    let (listen, http, socks) = (free_port(), free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_atlantic"))
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("ATLANTIC_LISTEN", listen.to_string())
        .env("ATLANTIC_HTTP_PROXY", http.to_string())
        .env("ATLANTIC_SOCKS_PROXY", socks.to_string())
        .env("ATLANTIC_SITE_ROOT", site)
        .env("ATLANTIC_ALLOW_PRIVATE_DESTINATIONS", "1")
        .env("ATLANTIC_USAGE_SPOOL_DIR", spool)
        .env("ATLANTIC_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("atlantic starts");
    until_ready(
        &format!("http://{listen}"),
        Duration::from_secs(60),
        "atlantic",
        || false,
    )
    .await;
    assert!(child.try_wait().unwrap().is_none(), "atlantic is running");
    Running { child, http, socks }
}

impl Running {
    fn route(&self, origin: SocketAddr, user: &str, pass: &str) -> Route {
        Route {
            http_proxy: self.http,
            socks_proxy: self.socks,
            origin,
            user: user.to_owned(),
            pass: pass.to_owned(),
        }
    }

    /// SIGKILL, and wait for it to be gone.
    async fn kill_9(mut self) {
        self.child.start_kill().expect("SIGKILL");
        self.child.wait().await.expect("reaped");
    }
}

/// Waits until the stored usage stops changing (the replay and flushes are done).
async fn settled(db: &store::Db) -> (u64, u64) {
    let mut last = stored_bytes(db, EMAIL).await;
    let mut same = 0;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = stored_bytes(db, EMAIL).await;
        same = if now == last { same + 1 } else { 0 };
        last = now;
        if same >= 4 {
            break;
        }
    }
    last
}

/// Checks one kill: what the clients counted against what was stored, and returns the loss
/// in milliseconds of traffic.
fn loss_ms(scenario: &str, counted: u64, stored: u64, rate_per_s: f64) -> f64 {
    // A chunk cut by the kill may be metered without having been counted: one per worker.
    let slack = (WORKERS * CHUNK) as u64;
    assert!(
        stored <= counted + slack,
        "{scenario}: stored {stored} bytes, more than the {counted} counted (+{slack} in flight): counted twice?"
    );
    let lost = counted.saturating_sub(stored);
    let ms = lost as f64 / rate_per_s * 1000.0;
    eprintln!(
        "{scenario}: counted {counted} bytes each way, stored {stored}, lost {lost} = {ms:.0} ms of traffic"
    );
    assert!(
        ms <= 1000.0,
        "{scenario}: lost {lost} bytes, {ms:.0} ms of traffic (goal: at most 1 s)"
    );
    ms
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_at_most_a_second_of_metering_even_during_a_database_outage() {
    let Some(pg) = PrivatePostgres::start() else {
        return;
    };
    let pg = Arc::new(pg);
    let (db, user, pass) = prepare_customer(&pg.url(), EMAIL).await;
    let spool = tempfile::tempdir().unwrap();
    let site = fake_site();
    let origin = echo_origin().await;

    // 1. The database is up: traffic, then SIGKILL.
    let service = start(&pg.url(), spool.path(), &site).await;
    let traffic = Traffic::start(&service.route(origin, &user, &pass), WORKERS, CHUNK, PACE);
    let began = Instant::now();
    tokio::time::sleep(Duration::from_millis(4_300)).await;
    service.kill_9().await;
    let ran = began.elapsed();
    let counted = traffic.stop().await;
    let rate = counted as f64 / ran.as_secs_f64();
    let service = start(&pg.url(), spool.path(), &site).await;
    let (up, down) = settled(&db).await;
    loss_ms("kill -9, database up", counted, up, rate);
    loss_ms("kill -9, database up (down)", counted, down, rate);
    let first = (up, down);

    // 2. The database stops; traffic goes on for 5 s (usage waits in memory and the spool);
    //    SIGKILL; the database comes back, and so does the service.
    let traffic = Traffic::start(&service.route(origin, &user, &pass), WORKERS, CHUNK, PACE);
    let began = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stopping = pg.clone();
    tokio::task::spawn_blocking(move || stopping.stop())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    service.kill_9().await;
    let ran = began.elapsed();
    let counted = traffic.stop().await;
    let rate = counted as f64 / ran.as_secs_f64();
    assert!(
        counted as f64 > rate * 5.0,
        "traffic went on through the outage"
    );
    let starting = pg.clone();
    tokio::task::spawn_blocking(move || starting.start_again())
        .await
        .unwrap();
    let service = start(&pg.url(), spool.path(), &site).await;
    let (up, down) = settled(&db).await;
    loss_ms("kill -9 during an outage", counted, up - first.0, rate);
    loss_ms(
        "kill -9 during an outage (down)",
        counted,
        down - first.1,
        rate,
    );

    // 3. Replayed once: killing the idle service and starting it again adds nothing, and
    //    leaves no spool behind but the running process's.
    service.kill_9().await;
    let service = start(&pg.url(), spool.path(), &site).await;
    assert_eq!(settled(&db).await, (up, down), "nothing replayed twice");
    let spools = std::fs::read_dir(spool.path()).unwrap().count();
    assert_eq!(spools, 1, "only the running process's spool is left");
    service.kill_9().await;
    let _ = std::fs::remove_dir_all(&site);
}
