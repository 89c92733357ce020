//! The Playwright suite against the real built service: start `atlantic` on free ports with a
//! fresh SQLite database, wait until `/ready`, run the specs in Debian's Chromium, then stop the
//! server with SIGTERM and require a clean, graceful exit.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::cmd::{command, run, step};
use crate::{paths, site, tools};

/// The customer the journeys sign in as.
const E2E_EMAIL: &str = "e2e@example.com";
/// Its password (a throwaway database; never a real account).
const E2E_PASSWORD: &str = "e2e-violet-kettle-orbit";

/// Builds everything and runs the Playwright suite.
pub fn build_and_run(release: bool) -> Result<(), String> {
    let chromium = tools::ensure_chromium()?;
    let binary = site::build_all(release)?;
    run_suite(&binary, &chromium)
}

/// Runs the suite against an already built binary (next to its site).
pub fn run_suite(binary: &Path, chromium: &Path) -> Result<(), String> {
    // Playwright and the test tools (the site build installs only its own packages)
    tools::ensure_npm_packages()?;
    let root = paths::workspace();
    let artifacts = root.join("end2end/artifacts");
    let _ = fs::remove_dir_all(&artifacts);
    fs::create_dir_all(&artifacts).map_err(|e| e.to_string())?;
    let data = tempdir("atlantic-e2e")?;

    // The journeys need a customer with a plan (a fresh registration has none, so the gateway
    // would answer quota_exceeded): provisioned as an operator would, with the CLI.
    let database_url = format!("sqlite://{}/e2e.db", data.display());
    step("provisioning the e2e customer (atlantic user add --plan Starter)");
    run(command(&binary.to_string_lossy())
        .args([
            "user",
            "add",
            "--email",
            E2E_EMAIL,
            "--password",
            E2E_PASSWORD,
            "--plan",
            "Starter",
        ])
        .env("DATABASE_URL", &database_url)
        .stdout(Stdio::null()))?;

    let web = free_port()?;
    let http_proxy = free_port()?;
    let socks_proxy = free_port()?;
    step(&format!(
        "starting atlantic for Playwright on {web} (log: end2end/artifacts/server.log)"
    ));
    let log = File::create(artifacts.join("server.log")).map_err(|e| e.to_string())?;
    let log_err = log.try_clone().map_err(|e| e.to_string())?;
    let mut server = command(&binary.to_string_lossy())
        .arg("serve")
        .args(["--listen", &web.to_string()])
        .args(["--http-proxy", &http_proxy.to_string()])
        .args(["--socks-proxy", &socks_proxy.to_string()])
        .args([
            "--database-url",
            &format!("sqlite://{}/e2e.db", data.display()),
        ])
        .env("ATLANTIC_ENV", "development")
        .env("ATLANTIC_ALLOW_PRIVATE_DESTINATIONS", "1")
        // As behind a local reverse proxy: journeys that need their own sign-in budget
        // come "from" their own address with X-Forwarded-For.
        .env("ATLANTIC_TRUSTED_PROXIES", "127.0.0.1/32")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;

    let result = wait_ready(web, &mut server).and_then(|()| {
        run(command("npx")
            .args(["playwright", "test"])
            .current_dir(root.join("end2end"))
            .env("BASE_URL", format!("http://{web}"))
            .env("E2E_EMAIL", E2E_EMAIL)
            .env("E2E_PASSWORD", E2E_PASSWORD)
            .env("ATLANTIC_HTTP_PROXY", http_proxy.to_string())
            .env("ATLANTIC_SOCKS_PROXY", socks_proxy.to_string())
            .env("CHROMIUM_PATH", chromium)
            // The operator's tools, for journeys that grant a plan like support would.
            .env("ATLANTIC_BINARY", binary)
            .env("ATLANTIC_DATABASE_URL", &database_url))
    });
    let stopped = stop_gracefully(&mut server);
    let _ = fs::remove_dir_all(&data);
    result?;
    stopped
}

/// Polls `GET /ready` until it answers 200 (migrations ran, the pool answers) or 120 s pass.
fn wait_ready(addr: SocketAddr, server: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = server.try_wait() {
            return Err(format!(
                "atlantic exited before it was ready ({status}); see end2end/artifacts/server.log"
            ));
        }
        if http_status(addr, "/ready") == Some(200) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err("atlantic did not become ready within 120 s; see end2end/artifacts/server.log".into())
}

/// SIGTERM, then require exit status 0 within 30 s (the server drains and flushes first).
fn stop_gracefully(server: &mut Child) -> Result<(), String> {
    let pid = server.id().to_string();
    let _ = command("kill").args(["-TERM", &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = server.try_wait() {
            return if status.success() {
                println!("    atlantic stopped gracefully");
                Ok(())
            } else {
                Err(format!("atlantic exited with {status} on SIGTERM"))
            };
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = server.kill();
    Err("atlantic did not stop within 30 s of SIGTERM".into())
}

/// A minimal HTTP/1.1 GET, enough to poll a health endpoint without a client library.
fn http_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).ok()?;
    let line = std::str::from_utf8(&head[..n]).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn free_port() -> Result<SocketAddr, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

fn tempdir(prefix: &str) -> Result<std::path::PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}
