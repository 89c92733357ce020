//! The `atlantic` binary as scripts and operators use it: exact output formats, exit codes,
//! one-line errors naming the variable, on SQLite and PostgreSQL.

mod common;

use std::process::{Command, Output};

use common::{Engine, TestDb, free_port};

fn atlantic(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_atlantic"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env_remove("ATLANTIC_ENV")
        .output()
        .expect("run atlantic")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

async fn user_add_prints_exactly_the_proxy_credentials(engine: Engine) {
    let Some(db) = TestDb::unmigrated(engine).await else {
        return;
    };
    let out = atlantic(
        db.url(),
        &[
            "user",
            "add",
            "--email",
            "Ada@Example.com",
            "--password",
            "correct horse battery",
            "--plan",
            "starter",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "exactly two lines on stdout: {text:?}");
    let username = lines[0]
        .strip_prefix("proxy_username=")
        .expect("username line");
    let password = lines[1]
        .strip_prefix("proxy_password=")
        .expect("password line");
    assert!(
        !username.contains('-') && !username.is_empty(),
        "{username}"
    );
    assert!(password.len() >= 20, "strong generated password");

    let creds = store::credentials::by_username(db.db(), username)
        .await
        .expect("query")
        .expect("stored");
    assert_eq!(creds.secret, password);
    let account = store::accounts::by_email(db.db(), "ada@example.com")
        .await
        .expect("q")
        .expect("account");
    let sub = store::subscriptions::current(db.db(), account.id, store::now_ms())
        .await
        .expect("query")
        .expect("the plan was granted");
    let plan = store::plans::by_id(db.db(), sub.plan_id)
        .await
        .expect("q")
        .expect("plan");
    assert_eq!(plan.name, "Starter");
    let days = (sub.period_end - sub.period_start) / 86_400_000;
    assert_eq!(days, 30);

    let again = atlantic(
        db.url(),
        &[
            "user",
            "add",
            "--email",
            "ada@example.com",
            "--password",
            "another long one",
        ],
    );
    assert!(!again.status.success(), "an existing email is an error");
    assert!(
        stdout(&again).is_empty(),
        "no credentials printed on failure"
    );
    assert_eq!(
        stderr(&again).trim().lines().count(),
        1,
        "{}",
        stderr(&again)
    );

    let no_plan = atlantic(
        db.url(),
        &[
            "user",
            "add",
            "--email",
            "b@example.com",
            "--password",
            "long enough pw",
            "--plan",
            "gold",
        ],
    );
    assert!(!no_plan.status.success());
    assert!(stderr(&no_plan).contains("--plan"), "{}", stderr(&no_plan));
    assert!(
        store::accounts::by_email(db.db(), "b@example.com")
            .await
            .expect("q")
            .is_none(),
        "nothing half-created"
    );
    db.close().await;
}
on_both_engines!(user_add_prints_exactly_the_proxy_credentials);

async fn user_grant_gives_an_existing_account_a_plan(engine: Engine) {
    let Some(db) = TestDb::unmigrated(engine).await else {
        return;
    };
    let added = atlantic(
        db.url(),
        &[
            "user",
            "add",
            "--email",
            "cy@example.com",
            "--password",
            "long enough pw",
        ],
    );
    assert!(added.status.success(), "{}", stderr(&added));
    let account = store::accounts::by_email(db.db(), "cy@example.com")
        .await
        .expect("q")
        .expect("account");
    let now = store::now_ms();
    assert!(
        store::subscriptions::current(db.db(), account.id, now)
            .await
            .expect("q")
            .is_none()
    );

    let granted = atlantic(
        db.url(),
        &[
            "user",
            "grant",
            "--email",
            "CY@example.com",
            "--plan",
            "personal",
        ],
    );
    assert!(granted.status.success(), "{}", stderr(&granted));
    assert!(stdout(&granted).is_empty());
    let sub = store::subscriptions::current(db.db(), account.id, store::now_ms())
        .await
        .expect("q")
        .expect("granted");
    let plan = store::plans::by_id(db.db(), sub.plan_id)
        .await
        .expect("q")
        .expect("plan");
    assert_eq!(plan.name, "Personal");

    for (args, variable) in [
        (
            [
                "user",
                "grant",
                "--email",
                "nobody@example.com",
                "--plan",
                "Starter",
            ],
            "--email",
        ),
        (
            [
                "user",
                "grant",
                "--email",
                "cy@example.com",
                "--plan",
                "gold",
            ],
            "--plan",
        ),
    ] {
        let failed = atlantic(db.url(), &args);
        assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
        assert!(stderr(&failed).contains(variable), "{}", stderr(&failed));
    }
    db.close().await;
}
on_both_engines!(user_grant_gives_an_existing_account_a_plan);

async fn migrate_applies_and_reverts(engine: Engine) {
    let Some(db) = TestDb::unmigrated(engine).await else {
        return;
    };
    let up = atlantic(db.url(), &["migrate"]);
    assert!(up.status.success(), "{}", stderr(&up));
    assert_eq!(db.db().pending_migrations().await.expect("pending"), 0);
    let down = atlantic(db.url(), &["migrate", "--revert"]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert_eq!(db.db().pending_migrations().await.expect("pending"), 1);
    let up_again = atlantic(db.url(), &["migrate"]);
    assert!(up_again.status.success(), "{}", stderr(&up_again));
    assert_eq!(db.db().pending_migrations().await.expect("pending"), 0);
    db.close().await;
}
on_both_engines!(migrate_applies_and_reverts);

#[test]
fn a_bad_database_url_is_one_line_and_a_failure() {
    for url in [
        "mysql://localhost/x",
        "nonsense",
        "postgres://nobody@127.0.0.1:1/nothing",
    ] {
        let out = atlantic(url, &["migrate"]);
        assert!(!out.status.success(), "{url} must fail");
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "one line for {url}: {err:?}");
        assert!(err.contains("DATABASE_URL"), "names the variable: {err}");
    }
}

#[test]
fn production_refuses_to_start_without_its_secrets() {
    let out = Command::new(env!("CARGO_BIN_EXE_atlantic"))
        .arg("serve")
        .env("ATLANTIC_ENV", "production")
        .env_remove("ATLANTIC_SECRET")
        .env("DATABASE_URL", "sqlite:///nonexistent/never-created.db")
        .output()
        .expect("run atlantic");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err:?}");
    assert!(err.contains("ATLANTIC_SECRET"), "{err}");
}

#[test]
fn a_bad_webhook_allowlist_stops_the_start_naming_the_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_atlantic"))
        .arg("serve")
        .env_remove("ATLANTIC_ENV")
        .env(
            "ATLANTIC_PAYSTACK_WEBHOOK_IPS",
            "52.31.139.75, api.paystack.co",
        )
        .env("DATABASE_URL", "sqlite:///nonexistent/never-created.db")
        .output()
        .expect("run atlantic");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err:?}");
    assert!(
        err.contains("ATLANTIC_PAYSTACK_WEBHOOK_IPS") && err.contains("api.paystack.co"),
        "{err}"
    );
}

/// A service started as `atlantic` alone, configured by environment variables only, on free
/// loopback ports and a scratch SQLite database; killed when dropped.
struct Service {
    child: std::process::Child,
    web: std::net::SocketAddr,
    http: std::net::SocketAddr,
    socks: std::net::SocketAddr,
    dir: std::path::PathBuf,
}

impl Service {
    /// Starts the service and waits until `/ready` answers 200.
    fn start(name: &str) -> Service {
        use std::time::{Duration, Instant};

        let (web, http, socks) = (free_port(), free_port(), free_port());
        let dir = std::env::temp_dir().join(format!("atlantic-cli-{name}-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("site/pkg")).expect("dir");
        std::fs::write(
            dir.join("site/assets.json"),
            r#"{"output_name":"a","css":"a.css","echarts":"e.js"}"#,
        )
        .expect("manifest");
        let child = Command::new(env!("CARGO_BIN_EXE_atlantic"))
            .env("ATLANTIC_LISTEN", web.to_string())
            .env("ATLANTIC_HTTP_PROXY", http.to_string())
            .env("ATLANTIC_SOCKS_PROXY", socks.to_string())
            .env("ATLANTIC_SITE_ROOT", dir.join("site"))
            .env(
                "DATABASE_URL",
                format!("sqlite://{}/db.sqlite", dir.display()),
            )
            .env_remove("ATLANTIC_ENV")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        let mut service = Service {
            child,
            web,
            http,
            socks,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !service.ready() {
            assert!(
                Instant::now() < deadline,
                "not ready on ATLANTIC_LISTEN={web}"
            );
            assert!(
                service.child.try_wait().expect("wait").is_none(),
                "exited early"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        service
    }

    fn ready(&self) -> bool {
        use std::io::{Read, Write};
        use std::net::TcpStream;
        use std::time::Duration;

        let Ok(mut s) = TcpStream::connect_timeout(&self.web, Duration::from_millis(200)) else {
            return false;
        };
        let _ = write!(s, "GET /ready HTTP/1.0\r\n\r\n");
        let mut reply = String::new();
        let _ = s.read_to_string(&mut reply);
        reply.starts_with("HTTP/1.1 200") || reply.starts_with("HTTP/1.0 200")
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `atlantic` with no subcommand serves, configured by environment variables alone, and exits
/// 0 on SIGTERM after a graceful shutdown.
#[test]
fn bare_atlantic_serves_from_the_environment_and_stops_on_sigterm() {
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    let mut service = Service::start("serve");
    assert!(
        TcpStream::connect(service.http).is_ok(),
        "HTTP proxy on ATLANTIC_HTTP_PROXY"
    );
    assert!(
        TcpStream::connect(service.socks).is_ok(),
        "SOCKS5 on ATLANTIC_SOCKS_PROXY"
    );

    let kill = Command::new("kill")
        .args(["-TERM", &service.child.id().to_string()])
        .status();
    assert!(kill.expect("kill").success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = service.child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit within 20 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "graceful exit code 0, got {status}");
}

fn healthcheck(listen: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_atlantic"))
        .arg("healthcheck")
        .args(args)
        .env("ATLANTIC_LISTEN", listen)
        // the check reads no other setting: a broken one must not fail it
        .env("DATABASE_URL", "mysql://not-read")
        .env("ATLANTIC_ENV", "production")
        .output()
        .expect("run atlantic healthcheck")
}

/// `atlantic healthcheck`, what the container image's HEALTHCHECK runs: 0 against a live
/// service (on the port of ATLANTIC_LISTEN, a wildcard address checked on loopback), 1 with one
/// line saying why against a closed port or a non-2xx answer.
#[test]
fn healthcheck_passes_against_a_live_service_and_fails_against_a_closed_port() {
    let service = Service::start("healthcheck");
    let web = service.web;

    let out = healthcheck(&web.to_string(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = healthcheck(&format!("0.0.0.0:{}", web.port()), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = healthcheck("", &["--url", &format!("http://{web}/live")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let url = format!("http://{web}/no-such-page");
    let out = healthcheck(&web.to_string(), &["--url", &url]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err:?}");
    assert!(err.contains(&url) && err.contains("404"), "{err}");

    drop(service);
    let closed = free_port();
    let out = healthcheck(&closed.to_string(), &[]);
    assert_eq!(out.status.code(), Some(1), "nothing listens on {closed}");
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err:?}");
    assert!(err.contains(&format!("http://{closed}/live")), "{err}");

    let out = healthcheck("localhost", &[]);
    assert_eq!(out.status.code(), Some(1), "never 2, which Docker reserves");
    assert!(stderr(&out).contains("ATLANTIC_LISTEN"), "{}", stderr(&out));
}

/// Docker secrets: `NAME_FILE` gives a secret's value from a file (its trailing newline
/// dropped), for every command; `NAME` and `NAME_FILE` together, or a file that cannot be read,
/// stop the command with one line naming the variable.
#[test]
fn secrets_come_from_their_files() {
    let dir =
        std::env::temp_dir().join(format!("atlantic-cli-secret-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let db = dir.join("from-file.sqlite");
    let url_file = dir.join("database_url");
    std::fs::write(&url_file, format!("sqlite://{}\n", db.display())).expect("write");
    let run = |env: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_atlantic"));
        // in the scratch directory: a fallback to the default database lands there
        command
            .arg("migrate")
            .current_dir(&dir)
            .env_remove("DATABASE_URL")
            .env_remove("ATLANTIC_ENV");
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().expect("run atlantic")
    };
    let url_file = url_file.display().to_string();

    let out = run(&[("DATABASE_URL_FILE", &url_file)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(db.exists(), "migrated the database the file names");

    let out = run(&[
        ("DATABASE_URL_FILE", &url_file),
        ("DATABASE_URL", "sqlite://elsewhere.db"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err:?}");
    assert!(
        err.contains("DATABASE_URL_FILE") && err.contains("so is DATABASE_URL"),
        "{err}"
    );

    let missing = dir.join("no-such-secret").display().to_string();
    let out = run(&[
        ("DATABASE_URL_FILE", &url_file),
        ("ATLANTIC_SECRET_FILE", &missing),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err:?}");
    assert!(
        err.contains("ATLANTIC_SECRET_FILE") && err.contains(&missing),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
