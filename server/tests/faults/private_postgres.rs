//! A PostgreSQL server of the test's own, which the test may stop and start again: Debian's
//! `initdb` and `pg_ctl` on a fresh data folder under the temp directory, listening on a free
//! loopback port (and a socket in its own folder). The machine's shared instance is left
//! alone. When the binaries are missing the test is skipped, except under `CI=true`, where
//! that fails it. As root (PostgreSQL refuses to run as root) it runs as the `postgres` user.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A running (or stopped) private server.
pub struct PrivatePostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    /// Run as the `postgres` user (we are root).
    as_postgres: bool,
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The newest PostgreSQL's binaries folder under `/usr/lib/postgresql`.
fn binaries() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl PrivatePostgres {
    /// Creates and starts a server; `None` (test skipped) when PostgreSQL's binaries are
    /// missing outside CI.
    pub fn start() -> Option<PrivatePostgres> {
        let Some(bin) = binaries() else {
            assert!(
                !in_ci(),
                "PostgreSQL's server binaries (initdb, pg_ctl) are missing under /usr/lib/postgresql (CI=true)"
            );
            eprintln!("skipped: PostgreSQL's server binaries are not installed");
            return None;
        };
        let as_postgres = is_root();
        let data = std::env::temp_dir().join(format!(
            "atl-private-pg-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&data).expect("data folder");
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&data)
                .status()
                .expect("chown");
            assert!(status.success(), "chown of {} failed", data.display());
        }
        let server = PrivatePostgres {
            bin,
            data,
            port: free_port(),
            as_postgres,
        };
        server.run(
            "initdb",
            &[
                "-D",
                &server.cluster_dir(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        server.start_again();
        Some(server)
    }

    fn cluster_dir(&self) -> String {
        self.data.join("cluster").to_string_lossy().into_owned()
    }

    /// Runs one of the server's programs (as `postgres` when we are root), failing the test
    /// with its output when it fails.
    fn run(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let output = command
            .args(args)
            .current_dir(&self.data)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{program} did not start: {e}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The URL of the `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server (again) and waits until it accepts connections.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
            self.port,
            self.data.display()
        );
        let log = self.data.join("server.log").to_string_lossy().into_owned();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.cluster_dir(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "-t",
                "30",
                "start",
            ],
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the private PostgreSQL did not come up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server: `fast` disconnects every client and shuts down cleanly.
    pub fn stop(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.cluster_dir(), "-m", "fast", "-w", "stop"],
        );
    }

    fn data_dir(&self) -> &Path {
        &self.data
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let path = self.bin.join("pg_ctl");
        let cluster = self.cluster_dir();
        let args = ["-D", cluster.as_str(), "-m", "immediate", "-w", "stop"];
        let _ = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&path)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
        } else {
            Command::new(&path)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
        };
        let _ = std::fs::remove_dir_all(self.data_dir());
    }
}
