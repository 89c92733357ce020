//! `--role` and the cluster settings: what this process runs (everything, only the dashboard,
//! or only the gateway) and, when it is one node of several, the Redis they share.

use std::time::Duration;

use super::{ConfigError, Env, Secret, err, secs};

/// What one `atlantic serve` process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Role {
    /// Dashboard, API, billing, jobs and the gateway, in one process (the default).
    #[default]
    All,
    /// Dashboard, API, billing and the jobs; no proxy ports.
    Web,
    /// The proxy ports only, with `/live`, `/ready` and `/metrics` on the listen address.
    Gateway,
}

impl Role {
    /// Whether the process runs the gateway.
    pub fn runs_gateway(self) -> bool {
        matches!(self, Role::All | Role::Gateway)
    }

    /// Whether the process runs the dashboard, billing and the jobs.
    pub fn runs_web(self) -> bool {
        matches!(self, Role::All | Role::Web)
    }

    /// The role's name, as `--role` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Web => "web",
            Role::Gateway => "gateway",
        }
    }
}

/// The cluster settings (`ATLANTIC_REDIS_URL` and the rest); `redis_url` is `None` for a
/// process on its own.
#[derive(Clone, Debug)]
pub struct ClusterSettings {
    /// What this process runs.
    pub role: Role,
    /// The Redis the nodes share.
    pub redis_url: Option<Secret>,
    /// `ATLANTIC_CLUSTER_NAME`: the prefix of every Redis key (default `atlantic`).
    pub name: String,
    /// `ATLANTIC_NODE_ID`: this node's id in the registry (default: host name and listen port).
    pub node_id: String,
    /// `ATLANTIC_REGION`: where the node runs, as shown on the Servers page.
    pub region: String,
    /// `ATLANTIC_DRAIN_SECS`: how long a stopping gateway waits for running tunnels.
    pub drain: Duration,
    /// `ATLANTIC_CONNECTION_LEASE_SECS`: how long a gateway's lease of an account's connection
    /// slots outlives its last renewal (a node renews every second; a dead node's slots come
    /// free after this).
    pub lease: Duration,
}

fn role(raw: Option<&str>) -> Result<Role, ConfigError> {
    match raw.map(str::trim) {
        None | Some("all") => Ok(Role::All),
        Some("web") => Ok(Role::Web),
        Some("gateway") => Ok(Role::Gateway),
        Some(other) => Err(err(
            "ATLANTIC_ROLE",
            format!("\"{other}\" is not a role (use all, web or gateway)"),
        )),
    }
}

/// A name of 1–64 characters from `[a-z0-9_.-]` (it ends up in keys and labels).
fn name(env: Env, var: &'static str, default: String) -> Result<String, ConfigError> {
    let value = env(var).map(|v| v.trim().to_owned()).unwrap_or(default);
    let fine = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    if fine {
        Ok(value)
    } else {
        Err(err(
            var,
            format!("\"{value}\" must be 1-64 characters of a-z, 0-9, '_', '.', '-'"),
        ))
    }
}

/// The machine's host name, lower-cased, or `node`.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_ascii_lowercase())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_owned())
}

impl ClusterSettings {
    /// Reads the settings; `role_flag` is `--role`, `database_url` the validated database URL
    /// (a cluster needs PostgreSQL), `listen_port` the dashboard port (for the default node
    /// id) and `grace` the shutdown grace (the default drain).
    pub fn from_env(
        env: Env,
        role_flag: Option<&str>,
        database_url: &str,
        listen_port: u16,
        grace: Duration,
    ) -> Result<ClusterSettings, ConfigError> {
        let role = role(role_flag)?;
        let redis_url = match env("ATLANTIC_REDIS_URL") {
            Some(raw) => {
                let raw = raw.trim().to_owned();
                cluster::RedisAddress::parse(&raw).map_err(|why| err("ATLANTIC_REDIS_URL", why))?;
                if database_url.starts_with("sqlite:") {
                    return Err(err(
                        "ATLANTIC_REDIS_URL",
                        "a cluster needs PostgreSQL: DATABASE_URL is SQLite, which belongs to \
                         one process (set DATABASE_URL=postgres://…)",
                    ));
                }
                Some(Secret::new(raw))
            }
            None => None,
        };
        if role != Role::All && redis_url.is_none() {
            return Err(err(
                "ATLANTIC_ROLE",
                format!(
                    "\"{}\" runs beside other nodes and needs ATLANTIC_REDIS_URL (and PostgreSQL)",
                    role.as_str()
                ),
            ));
        }
        let name_ = name(env, "ATLANTIC_CLUSTER_NAME", "atlantic".to_owned())?;
        let node_id = name(
            env,
            "ATLANTIC_NODE_ID",
            format!("{}-{listen_port}", host_name()),
        )?;
        let region = name(env, "ATLANTIC_REGION", "default".to_owned())?;
        let drain = secs(env, "ATLANTIC_DRAIN_SECS", 0..=3600)?.unwrap_or(grace);
        let lease =
            secs(env, "ATLANTIC_CONNECTION_LEASE_SECS", 3..=300)?.unwrap_or(cluster::LEASE_TIME);
        Ok(ClusterSettings {
            role,
            redis_url,
            name: name_,
            node_id,
            region,
            drain,
            lease,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(
        vars: &[(&str, &str)],
        role: Option<&str>,
        db: &str,
    ) -> Result<ClusterSettings, String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        ClusterSettings::from_env(&env, role, db, 3000, Duration::from_secs(20))
            .map_err(|e| e.to_string())
    }

    const PG: &str = "postgres://localhost/atlantic";
    const REDIS: (&str, &str) = ("ATLANTIC_REDIS_URL", "redis://127.0.0.1:6379");

    #[test]
    fn a_lone_process_needs_nothing() {
        let s = settings(&[], None, "sqlite://data/a.db").expect("defaults");
        assert_eq!(s.role, Role::All);
        assert!(s.redis_url.is_none());
        assert_eq!(s.name, "atlantic");
        assert!(s.node_id.ends_with("-3000"), "{}", s.node_id);
        assert_eq!(s.region, "default");
        assert_eq!(s.drain, Duration::from_secs(20), "the shutdown grace");
    }

    #[test]
    fn split_roles_need_redis_and_redis_needs_postgres() {
        let e = settings(&[], Some("gateway"), PG).expect_err("no redis");
        assert!(
            e.starts_with("ATLANTIC_ROLE: \"gateway\" runs beside"),
            "{e}"
        );
        let e = settings(&[REDIS], None, "sqlite://data/a.db").expect_err("sqlite");
        assert!(
            e.starts_with("ATLANTIC_REDIS_URL: a cluster needs PostgreSQL"),
            "{e}"
        );
        let e = settings(&[], Some("edge"), PG).expect_err("bad role");
        assert_eq!(
            e,
            "ATLANTIC_ROLE: \"edge\" is not a role (use all, web or gateway)"
        );
        let s = settings(&[REDIS, ("ATLANTIC_DRAIN_SECS", "5")], Some("web"), PG).expect("web");
        assert_eq!(s.role, Role::Web);
        assert_eq!(s.drain, Duration::from_secs(5));
        assert!(!s.role.runs_gateway() && s.role.runs_web());
    }

    #[test]
    fn urls_and_names_are_checked() {
        let e = settings(&[("ATLANTIC_REDIS_URL", "http://x")], None, PG).expect_err("scheme");
        assert!(
            e.starts_with("ATLANTIC_REDIS_URL: scheme \"http\" is not supported"),
            "{e}"
        );
        let e = settings(&[("ATLANTIC_REDIS_URL", "redis+cluster://h")], None, PG)
            .expect_err("a seed without a port");
        assert!(
            e.starts_with("ATLANTIC_REDIS_URL: seed \"h\" is not host:port"),
            "{e}"
        );
        let cluster = (
            "ATLANTIC_REDIS_URL",
            "redis+cluster://10.0.0.1:7000,10.0.0.2:7000",
        );
        let s = settings(&[cluster], Some("gateway"), PG).expect("a Redis Cluster");
        assert!(s.redis_url.is_some());
        let e = settings(&[REDIS, ("ATLANTIC_NODE_ID", "Gateway 1")], None, PG).expect_err("id");
        assert!(
            e.starts_with("ATLANTIC_NODE_ID: \"Gateway 1\" must be"),
            "{e}"
        );
        let s = settings(
            &[
                REDIS,
                ("ATLANTIC_NODE_ID", "gw-eu-1"),
                ("ATLANTIC_REGION", "eu-west"),
            ],
            Some("gateway"),
            PG,
        )
        .expect("named");
        assert_eq!(
            (s.node_id.as_str(), s.region.as_str()),
            ("gw-eu-1", "eu-west")
        );
    }
}
