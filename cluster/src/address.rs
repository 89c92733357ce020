//! Where the cluster's Redis is: one server (`redis://…`, `redis+unix://…`) or the seed nodes
//! of a Redis Cluster (`redis+cluster://[user:password@]host:port[,host:port…]`). A Redis
//! Cluster needs only some of its primaries as seeds: the client learns the rest, and the slot
//! map, from them.

/// A parsed Redis address.
#[derive(Clone, PartialEq, Eq)]
pub enum RedisAddress {
    /// One Redis server (or a proxy in front of several): its URL, as given.
    Server(String),
    /// A Redis Cluster: one `redis://` URL per seed node, each with the credentials.
    Cluster(Vec<String>),
}

/// Credentials stay out of logs and panics.
impl std::fmt::Debug for RedisAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RedisAddress::Server(_) => f.write_str("RedisAddress::Server(..)"),
            RedisAddress::Cluster(seeds) => {
                write!(f, "RedisAddress::Cluster({} seeds)", seeds.len())
            }
        }
    }
}

const SERVER_FORM: &str = "redis://[[user]:password@]host:port[/db]";
const CLUSTER_FORM: &str = "redis+cluster://[[user]:password@]host:port[,host:port…]";

impl RedisAddress {
    /// Parses `url`; the error says what is wrong and which form to use.
    pub fn parse(url: &str) -> Result<RedisAddress, String> {
        let url = url.trim();
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(format!(
                "is not a URL; use {SERVER_FORM}, or {CLUSTER_FORM} for a Redis Cluster"
            ));
        };
        match scheme {
            "redis+cluster" => cluster_seeds(rest).map(RedisAddress::Cluster),
            "redis" | "redis+unix" | "unix" => {
                redis::IntoConnectionInfo::into_connection_info(url)
                    .map_err(|e| format!("is not a valid Redis URL ({e}); use {SERVER_FORM}"))?;
                Ok(RedisAddress::Server(url.to_owned()))
            }
            other => Err(format!(
                "scheme \"{other}\" is not supported (use redis://, redis+unix://, or \
                 redis+cluster:// for a Redis Cluster)"
            )),
        }
    }

    /// The URLs to subscribe to change notices on, in order of preference: in a Redis
    /// Cluster a message published on any node reaches subscribers on every node.
    pub(crate) fn subscription_urls(&self) -> Vec<String> {
        match self {
            RedisAddress::Server(url) => vec![url.clone()],
            RedisAddress::Cluster(seeds) => seeds.clone(),
        }
    }
}

/// `[user:password@]host:port[,host:port…][/]` → one `redis://` URL per seed.
fn cluster_seeds(rest: &str) -> Result<Vec<String>, String> {
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if !path.is_empty() && path != "0" {
        return Err(format!(
            "a Redis Cluster has only database 0 (found \"/{path}\"); use {CLUSTER_FORM}"
        ));
    }
    let (credentials, hosts) = match authority.rsplit_once('@') {
        Some((credentials, hosts)) => (format!("{credentials}@"), hosts),
        None => (String::new(), authority),
    };
    let mut seeds = Vec::new();
    for host in hosts.split(',') {
        let host = host.trim();
        let port = host
            .rsplit_once(':')
            .and_then(|(name, port)| (!name.is_empty()).then_some(port))
            .and_then(|port| port.parse::<u16>().ok())
            .filter(|port| *port != 0);
        if port.is_none() {
            return Err(format!(
                "seed \"{host}\" is not host:port; use {CLUSTER_FORM}"
            ));
        }
        let seed = format!("redis://{credentials}{host}");
        redis::IntoConnectionInfo::into_connection_info(seed.as_str())
            .map_err(|e| format!("seed \"{host}\" is not valid ({e}); use {CLUSTER_FORM}"))?;
        seeds.push(seed);
    }
    Ok(seeds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_url_is_kept_as_given() {
        assert_eq!(
            RedisAddress::parse(" redis://:pw@127.0.0.1:6379/2 "),
            Ok(RedisAddress::Server("redis://:pw@127.0.0.1:6379/2".into()))
        );
        assert_eq!(
            RedisAddress::parse("redis+unix:///run/redis.sock"),
            Ok(RedisAddress::Server("redis+unix:///run/redis.sock".into()))
        );
    }

    #[test]
    fn a_cluster_url_gives_one_seed_per_host_each_with_the_credentials() {
        assert_eq!(
            RedisAddress::parse("redis+cluster://app:s3cret@10.0.0.1:7000,10.0.0.2:7001/"),
            Ok(RedisAddress::Cluster(vec![
                "redis://app:s3cret@10.0.0.1:7000".into(),
                "redis://app:s3cret@10.0.0.2:7001".into(),
            ]))
        );
        assert_eq!(
            RedisAddress::parse("redis+cluster://[::1]:7000"),
            Ok(RedisAddress::Cluster(vec!["redis://[::1]:7000".into()]))
        );
    }

    #[test]
    fn wrong_addresses_say_what_to_write() {
        let e = RedisAddress::parse("http://x").expect_err("refused");
        assert!(e.starts_with("scheme \"http\" is not supported"), "{e}");
        let e = RedisAddress::parse("localhost:6379").expect_err("refused");
        assert!(e.starts_with("is not a URL"), "{e}");
        let e = RedisAddress::parse("redis+cluster://10.0.0.1,10.0.0.2:7000").expect_err("refused");
        assert!(e.starts_with("seed \"10.0.0.1\" is not host:port"), "{e}");
        let e = RedisAddress::parse("redis+cluster://10.0.0.1:7000/3").expect_err("refused");
        assert!(e.starts_with("a Redis Cluster has only database 0"), "{e}");
        let e = RedisAddress::parse("redis://:pw@host:notaport").expect_err("refused");
        assert!(e.starts_with("is not a valid Redis URL"), "{e}");
    }

    #[test]
    fn debug_hides_credentials() {
        let address = RedisAddress::parse("redis+cluster://a:secret@h:1").expect("valid");
        assert!(!format!("{address:?}").contains("secret"));
    }
}
