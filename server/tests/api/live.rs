//! The real service for the tools that test the API from outside (schemathesis, the Python
//! example of docs/api.md): `atlantic serve` as a process on loopback ports and a fresh SQLite
//! database, with a customer on the Team plan and a `read_write` token; and where the Python
//! tools are.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use store::api_tokens::Scope;
use tokio::process::{Child, Command};

use crate::common::{self, Engine, TestDb};

/// The customer the tools act as.
pub const EMAIL: &str = "tools@example.com";

/// A running `atlantic serve`.
pub struct Live {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The customer's `read_write` token.
    pub token: String,
    child: Child,
    db: TestDb,
    site: PathBuf,
}

impl Live {
    /// Starts the binary on a fresh SQLite database with the customer and its token.
    pub async fn start() -> Live {
        let db = TestDb::new(Engine::Sqlite).await.expect("sqlite");
        common::customer(db.db(), EMAIL, "Team").await;
        let account = store::accounts::by_email(db.db(), EMAIL)
            .await
            .expect("query")
            .expect("account")
            .id;
        let token = store::api_tokens::create(
            db.db(),
            account,
            "tools",
            Scope::ReadWrite,
            None,
            store::now_ms(),
        )
        .await
        .expect("token")
        .1;
        let site = common::fake_site();
        let (listen, http, socks) = (
            common::free_port(),
            common::free_port(),
            common::free_port(),
        );
        let mut child = Command::new(env!("CARGO_BIN_EXE_atlantic"))
            .arg("serve")
            .env("DATABASE_URL", db.url())
            .env("ATLANTIC_LISTEN", listen.to_string())
            .env("ATLANTIC_HTTP_PROXY", http.to_string())
            .env("ATLANTIC_SOCKS_PROXY", socks.to_string())
            .env("ATLANTIC_SITE_ROOT", &site)
            .env("ATLANTIC_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("atlantic starts");
        let base = format!("http://{listen}");
        common::until_ready(&base, Duration::from_secs(60), "atlantic", || {
            child.try_wait().ok().flatten().is_some()
        })
        .await;
        Live {
            base,
            token,
            child,
            db,
            site,
        }
    }

    /// Another customer on the Team plan, and its `read_write` token: its own rate-limit
    /// buckets, for a run that must not meet the first one's.
    pub async fn another_customer(&self, email: &str) -> String {
        common::customer(self.db.db(), email, "Team").await;
        let account = store::accounts::by_email(self.db.db(), email)
            .await
            .expect("query")
            .expect("account")
            .id;
        store::api_tokens::create(
            self.db.db(),
            account,
            "tools",
            Scope::ReadWrite,
            None,
            store::now_ms(),
        )
        .await
        .expect("token")
        .1
    }

    /// Stops the service (it must still be running: a crash fails the test) and removes its
    /// database and site.
    pub async fn stop(mut self) {
        assert!(
            self.child.try_wait().expect("status").is_none(),
            "atlantic exited while under test"
        );
        self.child.kill().await.expect("stop atlantic");
        self.db.close().await;
        let _ = std::fs::remove_dir_all(&self.site);
    }
}

/// The Python venv `cargo xtask test` sets up (schemathesis and requests, pinned), from
/// `ATLANTIC_TEST_PYTHON_VENV`, else where the xtask puts it (`$ATLANTIC_TOOLS_DIR/python`,
/// default `~/.cache/atlantic/tools/python`). Absent: `None` and the test is skipped, except
/// under CI=true, where it fails: a skipped check must not pass as green.
pub fn venv() -> Option<PathBuf> {
    let dir = match std::env::var_os("ATLANTIC_TEST_PYTHON_VENV").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let tools = std::env::var_os("ATLANTIC_TOOLS_DIR")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into()))
                        .join(".cache/atlantic/tools")
                });
            tools.join("python")
        }
    };
    let complete = ["python", "st"]
        .iter()
        .all(|tool| dir.join("bin").join(tool).is_file());
    if !complete {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "no Python venv with schemathesis at {} (`cargo xtask test` makes it); CI=true \
             requires it",
            dir.display()
        );
        eprintln!(
            "SKIPPED: no Python venv with schemathesis at {} (`cargo xtask test` makes it)",
            dir.display()
        );
        return None;
    }
    Some(dir)
}
