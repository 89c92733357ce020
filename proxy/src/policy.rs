//! Destination policy: blocked ports, names that only mean something inside a network
//! (`localhost`, cloud metadata, single-label and private-use names), the service's own
//! listeners, and addresses in loopback, private, link-local, unspecified and other non-public
//! ranges — checked on the addresses a name resolves to, so a name pointing at the operator's
//! network is refused like the literal would be. Refusals never say which address a name
//! resolved to: the gateway is no oracle for the operator's DNS.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::destination::{Destination, Host};
use crate::error::{ErrorCode, ProxyError, Side};
use crate::resolver::Resolver;

/// Host names of cloud metadata services, refused whatever they resolve to.
const METADATA_NAMES: [&str; 6] = [
    "metadata.google.internal",
    "metadata.goog",
    "metadata.azure.com",
    "instance-data.ec2.internal",
    "metadata.tencentyun.com",
    "metadata.oraclecloud.com",
];

/// Suffixes reserved for names inside a network (RFC 6761, RFC 6762, RFC 8375, ICANN's
/// `.internal`) or used that way by convention; refused with any label in front.
const PRIVATE_SUFFIXES: [&str; 9] = [
    "localhost",
    "local",
    "localdomain",
    "internal",
    "home.arpa",
    "lan",
    "intranet",
    "corp",
    "home",
];

/// What destinations customers may reach.
#[derive(Debug, Clone)]
pub(crate) struct DestinationPolicy {
    pub(crate) allow_private: bool,
    pub(crate) blocked_ports: Vec<u16>,
    /// The service's own listeners (web, proxy ports): never a destination, whatever
    /// `allow_private` says, so the gateway cannot be used to reach its own metrics or loop
    /// into itself.
    pub(crate) own: Vec<SocketAddr>,
    pub(crate) resolver: Resolver,
}

impl DestinationPolicy {
    /// Checks what can be checked without DNS: the port, the host when it is a literal, and
    /// names that are refused by name.
    pub(crate) fn check(&self, dest: &Destination) -> Result<(), ProxyError> {
        if self.blocked_ports.contains(&dest.port) {
            return Err(blocked(format!("port {} is blocked", dest.port)));
        }
        match &dest.host {
            Host::Ip(ip) => self.check_addr(SocketAddr::new(*ip, dest.port))?,
            Host::Name(name) if !self.allow_private && is_private_name(name) => {
                return Err(blocked(format!("{name} is not a public host name")));
            }
            Host::Name(_) => {}
        }
        Ok(())
    }

    fn check_addr(&self, addr: SocketAddr) -> Result<(), ProxyError> {
        if self.is_own(addr) {
            return Err(blocked(
                "the gateway does not connect to its own service".into(),
            ));
        }
        if !self.allow_private && !is_public(addr.ip()) {
            return Err(blocked("destination is not a public address".into()));
        }
        Ok(())
    }

    /// Whether `addr` is one of the service's own listeners: same port, and the listener's
    /// address, a loopback or an unspecified address. (Another address of this host reaches a
    /// listener bound to all of them too, but from that address, not loopback, which is all the
    /// service trusts.)
    fn is_own(&self, addr: SocketAddr) -> bool {
        let ip = canonical(addr.ip());
        self.own.iter().any(|own| {
            own.port() == addr.port()
                && (ip == canonical(own.ip()) || ip.is_loopback() || ip.is_unspecified())
        })
    }

    /// Resolves the destination (the system's resolver unless configured) and returns the
    /// addresses, refusing the whole name if any of them is not allowed.
    pub(crate) async fn resolve(
        &self,
        dest: &Destination,
        timeout: Duration,
    ) -> Result<Vec<SocketAddr>, ProxyError> {
        let addrs: Vec<SocketAddr> = match &dest.host {
            Host::Ip(ip) => vec![SocketAddr::new(*ip, dest.port)],
            Host::Name(name) => {
                let lookup = self.resolver.lookup(name, dest.port);
                match tokio::time::timeout(timeout, lookup).await {
                    Err(_) => {
                        return Err(ProxyError::new(
                            ErrorCode::ConnectTimeout,
                            format!("DNS lookup of {name} timed out"),
                        ));
                    }
                    Ok(Err(e)) => {
                        return Err(ProxyError::new(
                            ErrorCode::UpstreamFailed,
                            format!("DNS lookup of {name} failed: {e}"),
                        )
                        .with_side(Side::Destination)
                        .with_socks_reply(0x04));
                    }
                    Ok(Ok(found)) => found,
                }
            }
        };
        if addrs.is_empty() {
            return Err(ProxyError::new(
                ErrorCode::UpstreamFailed,
                format!("{dest} has no address"),
            )
            .with_side(Side::Destination));
        }
        for a in &addrs {
            // the refusal names the host the customer gave, never what it resolved to
            self.check_addr(*a).map_err(|mut e| {
                if let Host::Name(name) = &dest.host {
                    e.detail = format!("{name} does not resolve to a public address");
                }
                e
            })?;
        }
        Ok(addrs)
    }
}

fn blocked(detail: String) -> ProxyError {
    ProxyError::new(ErrorCode::DestinationBlocked, detail)
}

/// Names that only mean something inside a network: single labels (completed by the resolver's
/// search list), reserved and private-use suffixes, and cloud metadata services.
pub(crate) fn is_private_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    !name.contains('.')
        || METADATA_NAMES.contains(&name.as_str())
        || PRIVATE_SUFFIXES.iter().any(|suffix| {
            name == *suffix
                || name
                    .strip_suffix(suffix)
                    .is_some_and(|front| front.ends_with('.'))
        })
}

/// The IPv4 address for an IPv4-mapped IPv6 one, so both spellings compare equal.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether an address is on the public internet (not ours, not anybody's private network).
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)) // documentation
}

/// IPv4 carried inside IPv6: mapped (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::/96`), 6to4
/// (`2002::/16`) and the deprecated compatible form (`::a.b.c.d`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let o = ip.octets();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|x| *x == 0) {
        return Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    if s[..6].iter().all(|x| *x == 0) && !ip.is_loopback() && !ip.is_unspecified() {
        return Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: bool) -> DestinationPolicy {
        DestinationPolicy {
            allow_private: allow,
            blocked_ports: vec![25, 465, 587],
            own: vec![
                "127.0.0.1:3000".parse().expect("addr"),
                "[::]:8080".parse().expect("addr"),
            ],
            resolver: Resolver::default(),
        }
    }

    #[test]
    fn non_public_ranges_are_refused() {
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "2002:c0a8:0101::1",
            "::10.0.0.1",
        ] {
            let ip: IpAddr = s.parse().expect(s);
            assert!(!is_public(ip), "{s}");
        }
        for s in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(s.parse().expect(s)), "{s}");
        }
    }

    #[test]
    fn ports_and_literals_are_checked_before_dns() {
        let p = policy(false);
        let d = |s: &str| Destination::parse_authority(s, None).expect(s);
        assert_eq!(
            p.check(&d("example.com:25")).map_err(|e| e.code),
            Err(ErrorCode::DestinationBlocked)
        );
        assert_eq!(
            p.check(&d("127.0.0.1:80")).map_err(|e| e.code),
            Err(ErrorCode::DestinationBlocked)
        );
        assert!(p.check(&d("example.com:443")).is_ok());
        assert!(policy(true).check(&d("127.0.0.1:80")).is_ok());
        assert!(policy(true).check(&d("127.0.0.1:587")).is_err());
    }

    #[test]
    fn names_that_only_mean_something_inside_a_network_are_refused() {
        let p = policy(false);
        for name in [
            "localhost",
            "LOCALHOST.",
            "app.localhost",
            "metadata",
            "instance-data",
            "metadata.google.internal",
            "metadata.goog",
            "printer.local",
            "db.corp",
            "router.home.arpa",
            "kubernetes",
        ] {
            let d = Destination::from_host(name, 443).expect(name);
            let err = p.check(&d).expect_err(name);
            assert_eq!(err.code, ErrorCode::DestinationBlocked, "{name}");
            assert!(
                policy(true).check(&d).is_ok(),
                "{name} with private allowed"
            );
        }
        for name in [
            "example.com",
            "localhost.example.com",
            "internal.example.org",
        ] {
            let d = Destination::from_host(name, 443).expect(name);
            assert!(p.check(&d).is_ok(), "{name}");
        }
    }

    #[test]
    fn the_services_own_listeners_are_refused_even_with_private_allowed() {
        let p = policy(true);
        let d = |s: &str| Destination::parse_authority(s, None).expect(s);
        for s in [
            "127.0.0.1:3000",
            "127.0.0.2:3000",
            "0.0.0.0:3000",
            "[::1]:8080",
            "[::]:8080",
        ] {
            assert_eq!(
                p.check(&d(s)).map_err(|e| e.code),
                Err(ErrorCode::DestinationBlocked),
                "{s}"
            );
        }
        // another port on the same host, or the web port on another host, is fine here
        assert!(p.check(&d("127.0.0.1:3001")).is_ok());
        assert!(p.check(&d("10.0.0.5:3000")).is_ok());
    }

    #[tokio::test]
    async fn a_refused_name_does_not_tell_what_it_resolved_to() {
        let mut p = policy(true);
        p.own = vec!["127.0.0.1:80".parse().expect("addr")];
        let local = Destination::from_host("localhost", 80).expect("dest");
        let err = p
            .resolve(&local, Duration::from_secs(5))
            .await
            .expect_err("own");
        assert_eq!(err.code, ErrorCode::DestinationBlocked);
        assert!(
            !err.detail.contains("127.0.0.1") && !err.detail.contains("::1"),
            "{}",
            err.detail
        );
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused() {
        // resolution is checked on its own: `localhost` is also refused by name in `check`
        let d = Destination::from_host("localhost", 80).expect("dest");
        let err = policy(false)
            .resolve(&d, Duration::from_secs(5))
            .await
            .expect_err("blocked");
        assert_eq!(err.code, ErrorCode::DestinationBlocked);
        let addrs = policy(true)
            .resolve(&d, Duration::from_secs(5))
            .await
            .expect("allowed");
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
