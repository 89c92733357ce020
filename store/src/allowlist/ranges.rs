//! Which networks an allowlist entry may cover and when two entries collide: the non-public
//! ranges refused by default, and overlap with IPv4-mapped IPv6 folded into IPv4.

use ipnet::{IpNet, Ipv4Net};

/// Ranges whose addresses never arrive at a public gateway from the internet. Listing one
/// would at best do nothing and at worst (behind a NAT, or a gateway reached over a private
/// network) hand the account to every machine on that network.
const NON_PUBLIC: &[(&str, &str)] = &[
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.168.0.0/16", "private"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::ffff:0:0/96", "IPv4-mapped"),
    ("fc00::/7", "unique local"),
    ("fe80::/10", "link-local"),
    ("ff00::/8", "multicast"),
];

/// The name of the non-public range `net` overlaps, if any.
pub fn non_public_range(net: &IpNet) -> Option<&'static str> {
    NON_PUBLIC.iter().find_map(|(range, name)| {
        let range: IpNet = range.parse().ok()?;
        // Compared as written: unmapped, `::ffff:0:0/96` would be all of IPv4.
        (range.contains(net) || net.contains(&range)).then_some(*name)
    })
}

/// Whether two networks share an address (one contains the other). An IPv4-mapped IPv6
/// network counts as the IPv4 network it maps, so it cannot dodge the one-owner rule.
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    let (a, b) = (unmapped(a), unmapped(b));
    a.contains(&b) || b.contains(&a)
}

/// `::ffff:a.b.c.d/n` (n ≥ 96) as `a.b.c.d/(n-96)`; anything else unchanged.
fn unmapped(net: &IpNet) -> IpNet {
    if let IpNet::V6(v6) = net
        && v6.prefix_len() >= 96
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && let Ok(mapped) = Ipv4Net::new(v4, v6.prefix_len() - 96)
    {
        return IpNet::V4(mapped);
    }
    *net
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().expect("test network")
    }

    #[test]
    fn networks_overlap_when_one_contains_the_other() {
        assert!(overlaps(&net("203.0.113.0/24"), &net("203.0.113.7/32")));
        assert!(overlaps(&net("203.0.113.7/32"), &net("203.0.113.0/24")));
        assert!(overlaps(&net("203.0.113.7/32"), &net("203.0.113.7/32")));
        assert!(!overlaps(&net("203.0.113.0/25"), &net("203.0.113.128/25")));
        assert!(!overlaps(&net("203.0.113.7/32"), &net("2001:db8::/48")));
        assert!(overlaps(&net("2001:db8::/48"), &net("2001:db8:0:1::/64")));
        // An IPv4-mapped network is the IPv4 network it maps.
        assert!(overlaps(
            &net("::ffff:203.0.113.7/128"),
            &net("203.0.113.0/24")
        ));
        assert!(overlaps(
            &net("203.0.113.0/24"),
            &net("::ffff:203.0.113.0/120")
        ));
        assert!(!overlaps(
            &net("::ffff:198.51.100.1/128"),
            &net("203.0.113.0/24")
        ));
    }
}
