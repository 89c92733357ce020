//! The harness: a cluster of `atlantic` processes on a fresh PostgreSQL database and a fresh
//! Redis cluster name, started, probed and stopped the way an operator would.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use cluster::test_support::TestRedis;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, MutexGuard};

use crate::common::{Engine, TestDb, fake_site, free_port};

/// Cluster tests run one at a time: each starts several processes, and their timing claims
/// (a rate within 15 %) need the machine's two cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// One database, one Redis cluster name, one site, and the nodes started on them.
pub struct Cluster {
    pub db: TestDb,
    pub redis: TestRedis,
    site: PathBuf,
    _serial: MutexGuard<'static, ()>,
}

/// One running `atlantic serve`.
pub struct Node {
    pub name: String,
    /// The dashboard (or, for a gateway node, its probes and metrics).
    pub base: String,
    pub http: Option<SocketAddr>,
    child: Child,
}

impl Cluster {
    /// A fresh cluster, or `None` (outside CI) when PostgreSQL or Redis is missing.
    pub async fn new() -> Option<Cluster> {
        let serial = ONE_AT_A_TIME.lock().await;
        let redis = TestRedis::new().await?;
        Cluster::on(redis, serial).await
    }

    /// A fresh cluster whose shared state is a Redis Cluster of three primaries started for
    /// it (`ATLANTIC_REDIS_URL=redis+cluster://…`).
    pub async fn on_redis_cluster() -> Option<Cluster> {
        let serial = ONE_AT_A_TIME.lock().await;
        let redis = TestRedis::on_redis_cluster().await?;
        Cluster::on(redis, serial).await
    }

    async fn on(redis: TestRedis, serial: MutexGuard<'static, ()>) -> Option<Cluster> {
        let db = TestDb::new(Engine::Postgres).await?;
        Some(Cluster {
            db,
            redis,
            site: fake_site(),
            _serial: serial,
        })
    }

    /// Starts a node (`role` = `web`, `gateway` or `all`) and waits until it is ready.
    pub async fn start(&self, role: &str, name: &str, extra: &[(&str, &str)]) -> Node {
        let listen = free_port();
        let (http, socks) = match role {
            "web" => (None, None),
            _ => (Some(free_port()), Some(free_port())),
        };
        let mut command = Command::new(env!("CARGO_BIN_EXE_atlantic"));
        command
            .arg("serve")
            .env("DATABASE_URL", self.db.url())
            .env("ATLANTIC_REDIS_URL", self.redis.url())
            .env("ATLANTIC_CLUSTER_NAME", self.redis.name())
            .env("ATLANTIC_ROLE", role)
            .env("ATLANTIC_NODE_ID", name)
            .env("ATLANTIC_REGION", "test")
            .env("ATLANTIC_LISTEN", listen.to_string())
            .env("ATLANTIC_SITE_ROOT", &self.site)
            .env("ATLANTIC_ALLOW_PRIVATE_DESTINATIONS", "1")
            .env("ATLANTIC_SHUTDOWN_GRACE_SECS", "3")
            .env("ATLANTIC_DRAIN_SECS", "3")
            .env("ATLANTIC_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let (Some(http), Some(socks)) = (http, socks) {
            command
                .env("ATLANTIC_HTTP_PROXY", http.to_string())
                .env("ATLANTIC_SOCKS_PROXY", socks.to_string());
        }
        for (k, v) in extra {
            command.env(k, v);
        }
        let child = command.spawn().expect("atlantic starts");
        let mut node = Node {
            name: name.to_owned(),
            base: format!("http://{listen}"),
            http,
            child,
        };
        node.wait_ready().await;
        node
    }
}

impl Cluster {
    /// The usual cluster: a web node `web` and two gateways `gw-a` and `gw-b`, all with `extra`.
    pub async fn web_and_two_gateways(&self, extra: &[(&str, &str)]) -> (Node, Node, Node) {
        let web = self.start("web", "web", extra).await;
        let a = self.start("gateway", "gw-a", extra).await;
        let b = self.start("gateway", "gw-b", extra).await;
        (web, a, b)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.site);
    }
}

impl Node {
    async fn wait_ready(&mut self) {
        let what = format!("node {}", self.name);
        let base = self.base.clone();
        let child = &mut self.child;
        crate::common::until_ready(&base, Duration::from_secs(60), &what, || {
            child.try_wait().ok().flatten().is_some()
        })
        .await;
    }

    /// The HTTP proxy address.
    pub fn http(&self) -> SocketAddr {
        self.http.expect("a gateway node")
    }

    /// Kills the process at once (SIGKILL): no drain, no goodbye.
    pub async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        let _ = self.child.wait().await;
    }

    /// Stops the process as an orchestrator would (SIGTERM), and waits for it.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let waited = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
        assert!(
            waited.is_ok(),
            "node {} did not stop within 20 s",
            self.name
        );
    }
}

/// Lifts the Starter plan's requests per second to 1,000 (its other limits stay), for tests
/// of the connection cap, the quota or sessions that should not be paced by the rate.
pub async fn unpaced_starter(db: &store::Db) {
    sqlx::query("UPDATE plans SET requests_per_second = 1000 WHERE name = 'Starter'")
        .execute(db.pool())
        .await
        .unwrap();
}

/// A proxy client through `gateway` as `user:pass` (reqwest, like a customer's scraper).
pub fn through(gateway: SocketAddr, user: &str, pass: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .proxy(
            reqwest::Proxy::all(format!("http://{gateway}"))
                .unwrap()
                .basic_auth(user, pass),
        )
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}
