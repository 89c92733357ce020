//! Where a client wants to go: a host (IP literal or name) and a port.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// A destination host as the client named it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// An IP literal.
    Ip(IpAddr),
    /// A DNS name, lower-case.
    Name(String),
}

/// Host and port of a destination.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    /// The host.
    pub host: Host,
    /// The TCP port.
    pub port: u16,
}

impl Destination {
    /// A destination from a host string (IP literal, `[v6]` or name) and a port.
    pub fn from_host(host: &str, port: u16) -> Option<Destination> {
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
        if let Some(v6) = bare {
            return v6.parse::<Ipv6Addr>().ok().map(|ip| Destination {
                host: Host::Ip(ip.into()),
                port,
            });
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Some(Destination {
                host: Host::Ip(ip),
                port,
            });
        }
        let valid = !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        valid.then(|| Destination {
            host: Host::Name(host.to_ascii_lowercase()),
            port,
        })
    }

    /// Parses `host:port` / `[v6]:port` (the CONNECT authority form); the port is required
    /// unless `default_port` is given.
    pub fn parse_authority(s: &str, default_port: Option<u16>) -> Option<Destination> {
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (v6, after) = rest.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(p) => parse_port(p)?,
                None if after.is_empty() => default_port?,
                None => return None,
            };
            (format!("[{v6}]"), port)
        } else {
            match s.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), parse_port(p)?),
                None => (s.to_owned(), default_port?),
            }
        };
        Destination::from_host(&host, port)
    }
}

fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse::<u16>().ok().filter(|p| *p != 0)
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_forms_parse() {
        let d = Destination::parse_authority("Example.COM:443", None).expect("name");
        assert_eq!(d.host, Host::Name("example.com".into()));
        assert_eq!(d.to_string(), "example.com:443");
        let d = Destination::parse_authority("[::1]:8080", None).expect("v6");
        assert_eq!(d.to_string(), "[::1]:8080");
        let d = Destination::parse_authority("10.0.0.1", Some(80)).expect("v4 default port");
        assert_eq!(d.to_string(), "10.0.0.1:80");
        assert_eq!(
            Destination::parse_authority("[::1]", Some(80)).map(|d| d.port),
            Some(80)
        );
    }

    #[test]
    fn bad_authorities_are_refused() {
        for s in [
            "example.com",
            "example.com:",
            "example.com:0",
            "example.com:99999",
            "[::1",
            "a b:80",
            ":80",
            "[zz]:80",
            "h:+80",
        ] {
            assert_eq!(Destination::parse_authority(s, None), None, "{s}");
        }
    }
}
