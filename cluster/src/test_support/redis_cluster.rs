//! A real Redis Cluster for a test: `redis-server --cluster-enabled yes` on free loopback
//! ports, joined and given every slot by `redis-cli --cluster create`, and killed (its files
//! removed) when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::distr::{Alphanumeric, SampleString};

/// The processes of one Redis Cluster.
#[derive(Debug)]
pub(crate) struct RedisClusterServers {
    ports: Vec<u16>,
    children: Vec<Child>,
    dir: PathBuf,
}

/// `n` distinct free loopback ports: all bound at once (so none is handed out twice), then
/// released for the servers to bind a moment later.
fn free_ports(n: usize) -> Result<Vec<u16>, String> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("no free port: {e}"))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("no free port: {e}"))
}

fn redis_cli(args: &[&str]) -> Result<String, String> {
    let output = Command::new("redis-cli")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run redis-cli: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "redis-cli {}: {}{}",
            args.join(" "),
            text,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

impl RedisClusterServers {
    /// Starts `primaries` servers and makes them one cluster, with every slot served.
    pub(crate) async fn start(primaries: usize) -> Result<RedisClusterServers, String> {
        let dir = std::env::temp_dir().join(format!(
            "atlantic-redis-cluster-{}",
            Alphanumeric.sample_string(&mut rand::rng(), 10)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut servers = RedisClusterServers {
            ports: Vec::new(),
            children: Vec::new(),
            dir,
        };
        let ports = free_ports(primaries * 2)?;
        for pair in ports.chunks(2) {
            let (port, bus) = (pair[0], pair[1]);
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string()])
                .args(["--cluster-port", &bus.to_string()])
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .args(["--cluster-node-timeout", "2000"])
                .arg("--dir")
                .arg(&servers.dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| {
                    format!("cannot run redis-server ({e}); apt-get install redis-server")
                })?;
            servers.ports.push(port);
            servers.children.push(child);
        }
        for port in &servers.ports {
            servers
                .until(&format!("{port} answers"), || {
                    redis_cli(&["-p", &port.to_string(), "ping"]).is_ok_and(|o| o.trim() == "PONG")
                })
                .await?;
        }
        let addresses: Vec<String> = servers
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let mut create: Vec<&str> = vec!["--cluster", "create"];
        create.extend(addresses.iter().map(String::as_str));
        create.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        redis_cli(&create)?;
        for port in &servers.ports {
            servers
                .until(&format!("{port} sees the whole cluster"), || {
                    redis_cli(&["-p", &port.to_string(), "cluster", "info"]).is_ok_and(|info| {
                        info.contains("cluster_state:ok")
                            && info.contains(&format!("cluster_known_nodes:{primaries}"))
                            && info.contains("cluster_slots_ok:16384")
                    })
                })
                .await?;
        }
        Ok(servers)
    }

    async fn until(&self, what: &str, mut done: impl FnMut() -> bool) -> Result<(), String> {
        // generous: under a loaded CI run the servers' gossip can take a while to settle
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done() {
            if Instant::now() > deadline {
                return Err(format!("Redis Cluster: waited 60 s for {what}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// The cluster's address for `ATLANTIC_REDIS_URL`: every server as a seed.
    pub(crate) fn url(&self) -> String {
        let seeds: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        format!("redis+cluster://{}", seeds.join(","))
    }

    /// Each server's own URL.
    pub(crate) fn server_urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }
}

impl Drop for RedisClusterServers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
