//! Starts the whole service in-process on port 0, on a fresh database of either engine.

#![allow(dead_code)] // each test binary uses a different part of this helper

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use server::config::{CommonArgs, Config, ServeArgs};
use server::{Handles, Listeners, run_with_handles};
#[allow(unused_imports)] // not every test binary has database stories
pub use store::test_support::{Engine, TestDb};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Generates a `sqlite` and a `postgres` test from one async story taking an [`Engine`].
#[macro_export]
macro_rules! on_both_engines {
    ($story:ident) => {
        mod $story {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$story($crate::common::Engine::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$story($crate::common::Engine::Postgres).await;
            }
        }
    };
}

/// A running service and what a test needs to talk to it.
pub struct Service {
    pub base: String,
    pub web: SocketAddr,
    pub http_proxy: SocketAddr,
    pub socks_proxy: SocketAddr,
    pub database_url: String,
    handles: Handles,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
    site: PathBuf,
}

impl Service {
    /// Starts the service on `database_url` with a minimal built site.
    pub async fn start(database_url: &str) -> Service {
        Self::start_with(database_url, &[]).await
    }

    /// Like [`Service::start`], with extra environment variables for the configuration.
    pub async fn start_with(database_url: &str, extra: &[(&str, &str)]) -> Service {
        let site = fake_site();
        let extra: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        // each service spools usage in its own folder (removed with the site) unless told
        let spool = site.join("spool").to_string_lossy().into_owned();
        let env = move |name: &str| {
            let given = extra
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone());
            match name {
                "ATLANTIC_ALLOW_PRIVATE_DESTINATIONS" => Some("1".to_string()),
                "ATLANTIC_SHUTDOWN_GRACE_SECS" => Some("5".to_string()),
                "ATLANTIC_USAGE_SPOOL_DIR" => given.or_else(|| Some(spool.clone())),
                _ => given,
            }
        };
        let serve = ServeArgs {
            listen: Some("127.0.0.1:0".into()),
            http_proxy: Some("127.0.0.1:0".into()),
            socks_proxy: Some("127.0.0.1:0".into()),
            site_root: Some(site.clone()),
            role: None,
        };
        let common = CommonArgs {
            database_url: Some(database_url.to_string()),
        };
        let config = Config::resolve(&serve, &common, &env).expect("test configuration is valid");
        let (http, socks) = (bind().await, bind().await);
        let web_listener = bind().await;
        let web = web_listener.local_addr().expect("bound");
        let http_proxy = http.local_addr().expect("bound");
        let socks_proxy = socks.local_addr().expect("bound");
        let listeners = Listeners {
            web: web_listener,
            proxies: Some((http, socks)),
        };
        let shutdown = CancellationToken::new();
        let (handles, handed) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(run_with_handles(
            config,
            listeners,
            shutdown.clone(),
            Some(handles),
        ));
        let handles = handed.await.expect("the service is built before it serves");
        let service = Service {
            base: format!("http://{web}"),
            web,
            http_proxy,
            socks_proxy,
            database_url: database_url.to_string(),
            handles,
            shutdown,
            task,
            site,
        };
        service.wait_ready().await;
        service
    }

    /// Polls `/ready` until 200, failing the test after 30 s.
    async fn wait_ready(&self) {
        until_ready(&self.base, Duration::from_secs(30), "service", || {
            self.task.is_finished()
        })
        .await;
    }

    /// Runs housekeeping (expired sessions, limiter keys, billing, quota warnings) once, now,
    /// instead of waiting for its interval.
    pub async fn housekeep(&self) -> server::HousekeepingReport {
        self.handles.housekeeper.run_once().await
    }

    /// Moves the web limiters' clock forward by `by`, as if that much time had passed for
    /// their buckets (nothing else is affected).
    pub fn advance_limits(&self, by: Duration) {
        self.handles.limit_clock.advance(by);
    }

    /// Sends the shutdown signal and returns what `run` returned.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("service stops within 30 s")
            .expect("service task did not panic");
        let _ = std::fs::remove_dir_all(&self.site);
        result
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        client()
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request")
    }
}

/// A free loopback port (bound and released; the process under test binds it a moment later).
pub fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// A client that never uses a proxy from the environment.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

async fn bind() -> TcpListener {
    TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
}

/// A site directory as `cargo xtask build` writes it, with tiny placeholder assets.
/// Polls `base`'s `/ready` until it answers 200, failing the test after `within`, or at once
/// when `exited` says the process (or task) behind it is gone.
pub async fn until_ready(
    base: &str,
    within: Duration,
    what: &str,
    mut exited: impl FnMut() -> bool,
) {
    let client = client();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Ok(r) = client.get(format!("{base}/ready")).send().await
            && r.status() == 200
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} not ready within {} s",
            within.as_secs()
        );
        assert!(!exited(), "{what} exited during start-up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A minimal built site in a fresh temporary folder.
pub fn fake_site() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("atlantic-site-{}", uuid_like()));
    std::fs::create_dir_all(dir.join("pkg")).expect("site dir");
    std::fs::write(
        dir.join("assets.json"),
        r#"{"output_name":"atlantic-test","css":"atlantic-test.css","echarts":"echarts-test.min.js"}"#,
    )
    .expect("manifest");
    std::fs::write(
        dir.join("pkg/atlantic-test.css"),
        "body{color:#123}\n".repeat(64),
    )
    .expect("css");
    std::fs::write(
        dir.join("favicon.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    )
    .expect("icon");
    dir
}

fn uuid_like() -> String {
    use rand::Rng;
    let n: u64 = rand::rng().random();
    format!("{n:016x}")
}

/// A local origin answering every request with `body` (HTTP/1.1, keep-alive off).
pub async fn origin(body: &'static str) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = bind().await;
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    addr
}

/// The sign-in password of accounts made by [`customer`].
pub const CUSTOMER_PASSWORD: &str = "a long enough password";

/// The kinds of the account's latest activity events, newest first.
pub async fn activity_kinds(db: &store::Db, email: &str) -> Vec<String> {
    let account = store::accounts::by_email(db, email)
        .await
        .expect("query")
        .expect("account");
    store::activity::list(
        db,
        account.id,
        store::activity::KindFilter::ALL,
        store::Page::first(20),
    )
    .await
    .expect("activity")
    .into_iter()
    .map(|a| a.kind)
    .collect()
}

/// Creates an account with proxy credentials and `plan`; returns (username, password).
pub async fn customer(db: &store::Db, email: &str, plan: &str) -> (String, String) {
    let now = store::now_ms();
    let hash = store::accounts::hash_password(CUSTOMER_PASSWORD).expect("hash");
    let account = store::accounts::create(db, email, &hash, store::accounts::Role::Customer, now)
        .await
        .expect("account");
    let creds = store::credentials::create(db, account.id, now)
        .await
        .expect("credentials");
    let plan = store::plans::by_name(db, plan)
        .await
        .expect("query")
        .expect("plan exists");
    store::subscriptions::grant(db, account.id, plan.id, 30, now)
        .await
        .expect("grant");
    (creds.username, creds.secret)
}

/// A browser-like client: keeps cookies, follows no redirects, sends our Origin on posts.
pub struct Browser {
    pub client: reqwest::Client,
    base: String,
}

impl Browser {
    pub fn new(service: &Service) -> Browser {
        Browser::at(&service.base)
    }

    /// A browser for the dashboard at `base` (`http://host:port`).
    pub fn at(base: &str) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .no_proxy()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                // Generous: a page that never finishes still fails the test (a page whose
                // body never ended is what billing's `startup_race` test guards against).
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            base: base.to_owned(),
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET")
    }

    /// Signs in as a customer made by [`customer`], failing the test if it does not work.
    pub async fn sign_in_customer(&self, email: &str) {
        let form = [("email", email), ("password", CUSTOMER_PASSWORD)];
        assert_eq!(
            location(&self.post("/login", &form).await),
            "/",
            "sign-in as {email}"
        );
    }

    /// A form post from our own pages (Origin = the site).
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.post_from(path, form, Some(&self.base)).await
    }

    /// A form post claiming `origin` (None: no Origin header at all).
    pub async fn post_from(
        &self,
        path: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self.client.post(format!("{}{path}", self.base)).form(form);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send().await.expect("POST")
    }
}

/// Where a redirect points.
pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// The value of the session cookie a response sets, if any.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("atlantic_session="))
        .map(str::to_owned)
}
