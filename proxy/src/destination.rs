//! Where a client wants to go: a host (IP literal or name) and a port. Every numeric IPv4 form
//! that `inet_aton(3)` accepts (`2130706433`, `0x7f000001`, `127.1`, `0177.0.0.1`) is an address
//! here too, so no resolver down the line can read as an address what we took for a name.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
        if !is_dns_name(host) {
            return None;
        }
        // a name whose last label is numeric is no DNS name (no top-level domain is numeric):
        // it is an IPv4 address in one of inet_aton's forms, or nothing
        let bare = host.strip_suffix('.').unwrap_or(host);
        let last = bare.rsplit('.').next().unwrap_or(bare);
        if numeric_part(last).is_some() {
            let ip = parse_ipv4_numeric(bare)?;
            return Some(Destination {
                host: Host::Ip(IpAddr::V4(ip)),
                port,
            });
        }
        Some(Destination {
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

/// A host name as DNS can carry it: 1–253 bytes of letters, digits, `-` and `_` in dot-separated
/// labels of 1–63 bytes, with at most one trailing dot.
fn is_dns_name(host: &str) -> bool {
    let bare = host.strip_suffix('.').unwrap_or(host);
    !bare.is_empty()
        && bare.len() <= 253
        && bare.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// One part of a numeric IPv4 form as `inet_aton(3)` reads it: `0x`/`0X` hexadecimal, a
/// leading `0` octal, else decimal. `None` when the text is not a number of that shape.
fn numeric_part(part: &str) -> Option<u64> {
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    if digits.is_empty() {
        // `0x` alone is zero to inet_aton
        return (radix == 16).then_some(0);
    }
    if !digits.bytes().all(|b| (b as char).is_digit(radix)) {
        return None;
    }
    // longer than any 32-bit value, in any radix: not an address (and no overflow below)
    let digits = digits.trim_start_matches('0');
    if digits.len() > 11 {
        return Some(u64::MAX);
    }
    u64::from_str_radix(if digits.is_empty() { "0" } else { digits }, radix).ok()
}

/// Parses the numeric IPv4 forms `inet_aton(3)` accepts: `a` (32 bits), `a.b` (8.24), `a.b.c`
/// (8.8.16) and `a.b.c.d`, each part decimal, octal or hexadecimal. `None` for anything else,
/// including a part too large for its place.
pub(crate) fn parse_ipv4_numeric(s: &str) -> Option<Ipv4Addr> {
    let parts = s
        .split('.')
        .map(numeric_part)
        .collect::<Option<Vec<u64>>>()?;
    let (last, leading) = parts.split_last()?;
    if leading.len() > 3 || leading.iter().any(|p| *p > 0xff) {
        return None;
    }
    let last_bits = 32 - 8 * leading.len() as u32;
    if *last >= 1u64 << last_bits {
        return None;
    }
    let high = leading
        .iter()
        .enumerate()
        .fold(0u64, |acc, (i, p)| acc | p << (24 - 8 * i as u32));
    u32::try_from(high | last).ok().map(Ipv4Addr::from)
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

    #[test]
    fn every_numeric_ipv4_form_is_an_address() {
        for (form, ip) in [
            ("2130706433", "127.0.0.1"),
            ("0x7f000001", "127.0.0.1"),
            ("0X7F000001", "127.0.0.1"),
            ("127.1", "127.0.0.1"),
            ("127.0.1", "127.0.0.1"),
            ("0177.0.0.1", "127.0.0.1"),
            ("0x7f.0.0.1", "127.0.0.1"),
            ("0x7f.1", "127.0.0.1"),
            ("2852039166", "169.254.169.254"),
            ("0251.0376.0251.0376", "169.254.169.254"),
            ("169.254.43518", "169.254.169.254"),
            ("127.0.0.1.", "127.0.0.1"),
            ("0", "0.0.0.0"),
            ("0x", "0.0.0.0"),
            ("010.0.0.1", "8.0.0.1"),
            ("4294967295", "255.255.255.255"),
        ] {
            let d = Destination::from_host(form, 80).expect(form);
            assert_eq!(d.host, Host::Ip(ip.parse().expect(ip)), "{form}");
        }
    }

    #[test]
    fn numeric_looking_hosts_that_are_no_address_are_refused() {
        for s in [
            "4294967296",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.16777216",
            "0x1.0x1000000",
            "089.1.1.1",
            "0xg.1.1.1",
            "example.123",
            "99999999999999999999999",
            "1..1",
            "a..b",
            ".example.com",
            "example.com..",
        ] {
            assert_eq!(Destination::from_host(s, 80), None, "{s}");
        }
        // names that merely contain digits stay names
        for s in [
            "1.example.com",
            "0x7f.example",
            "127.0.0.1.nip.io",
            "123abc",
        ] {
            assert!(
                matches!(
                    Destination::from_host(s, 80).map(|d| d.host),
                    Some(Host::Name(_))
                ),
                "{s}"
            );
        }
    }
}
