//! The client's address. Directly connected clients are who the socket says; behind a reverse
//! proxy listed in `ATLANTIC_TRUSTED_PROXIES`, it is the right-most `X-Forwarded-For` entry that
//! is not itself a trusted proxy (entries further left are whatever the client claimed).

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The address that rate limits and activity logs attribute a request to.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer.ip()) {
        return peer.ip();
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|entry| entry.trim().parse().ok())
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .copied()
        .unwrap_or(peer.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().expect("value"));
        }
        h
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().expect("ip"), 40000)
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().expect("net")).collect()
    }

    #[test]
    fn direct_clients_cannot_claim_another_address() {
        let ip = client_ip(
            peer("203.0.113.9"),
            &headers(&["198.51.100.1"]),
            &nets(&["127.0.0.1/32"]),
        );
        assert_eq!(ip.to_string(), "203.0.113.9");
        let ip = client_ip(peer("127.0.0.1"), &headers(&["198.51.100.1"]), &[]);
        assert_eq!(ip.to_string(), "127.0.0.1", "no trusted proxies configured");
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_entry_wins() {
        let trusted = nets(&["127.0.0.1/32", "10.0.0.0/8"]);
        // The client forged "1.2.3.4"; the proxy appended the real address.
        let ip = client_ip(
            peer("127.0.0.1"),
            &headers(&["1.2.3.4, 203.0.113.9"]),
            &trusted,
        );
        assert_eq!(ip.to_string(), "203.0.113.9");
        // Two proxies in a row, across two headers.
        let ip = client_ip(
            peer("127.0.0.1"),
            &headers(&["203.0.113.9", "10.1.2.3"]),
            &trusted,
        );
        assert_eq!(ip.to_string(), "203.0.113.9");
        // Nothing usable: fall back to the peer.
        let ip = client_ip(peer("127.0.0.1"), &headers(&["garbage"]), &trusted);
        assert_eq!(ip.to_string(), "127.0.0.1");
    }
}
