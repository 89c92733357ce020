//! The Redis the cluster tests use: `ATLANTIC_TEST_REDIS_URL` if it answers, else the one on
//! 127.0.0.1:6379, else a `redis-server` started here on a free loopback port for the run
//! (Debian's package, installed with apt when running as root), stopped when the run ends.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::cmd::{self, command, output, step};

const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

/// The Redis for the tests; a server started here stops when this is dropped.
pub struct TestRedis {
    pub url: String,
    started: Option<Child>,
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.started.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn answers(url: &str) -> bool {
    output(command("redis-cli").args(["-u", url, "ping"])).is_some_and(|o| o.trim() == "PONG")
}

/// Finds or starts a Redis; `Err` when there is none and none can be started.
pub fn ensure() -> Result<TestRedis, String> {
    let url = std::env::var("ATLANTIC_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_URL.into());
    step(&format!("checking Redis for the cluster tests ({url})"));
    if !cmd::on_path("redis-server") {
        cmd::apt_install(&["redis-server"])?;
    }
    if cmd::on_path("redis-cli") && answers(&url) {
        println!("    Redis answers at {url}");
        return Ok(TestRedis { url, started: None });
    }
    if !cmd::on_path("redis-server") {
        return Err(format!(
            "Redis does not answer at {url} and redis-server is not installed \
             (apt-get install redis-server, or set ATLANTIC_TEST_REDIS_URL)"
        ));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port for redis-server: {e}"))?
        .port();
    let child = command("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("could not start redis-server: {e}"))?;
    let url = format!("redis://127.0.0.1:{port}");
    let redis = TestRedis {
        url: url.clone(),
        started: Some(child),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !answers(&url) {
        if Instant::now() > deadline {
            return Err(format!(
                "redis-server on port {port} did not answer in 10 s"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("    started redis-server for this run at {url}");
    Ok(redis)
}
