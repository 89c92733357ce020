//! The client's address. Directly connected clients are who the socket says; behind a reverse
//! proxy listed in `ATLANTIC_TRUSTED_PROXIES`, it is the right-most `X-Forwarded-For` entry that
//! is not itself a trusted proxy (entries further left are whatever the client claimed).
//!
//! Handlers and middleware take it as the [`ClientIp`] extractor.
//!
//! Limits count a client by its [`SourceKey`], not its exact address: one IPv6 subscriber
//! usually holds a whole /64 and could otherwise take a fresh bucket for every request.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;

use crate::state::AppState;

/// The client's address (see [`client_ip`]), extracted from the connection and the headers
/// under the configured trusted proxies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(ClientIp(client_ip(
            peer,
            &parts.headers,
            &state.config.trusted_proxies,
        )))
    }
}

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

/// What rate limits and connection caps count a client under: an IPv4 address as is (an
/// IPv4-mapped IPv6 address counts as its IPv4 address), an IPv6 address by its /64 network.
/// Built only by [`SourceKey::of`], so every limiter keys the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SourceKey(IpAddr);

impl SourceKey {
    /// The key of `ip`.
    pub fn of(ip: IpAddr) -> SourceKey {
        match ip {
            IpAddr::V4(v4) => SourceKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => SourceKey(IpAddr::V4(v4)),
                None => {
                    let network = u128::from(v6) & !((1u128 << 64) - 1);
                    SourceKey(IpAddr::V6(Ipv6Addr::from(network)))
                }
            },
        }
    }

    /// The address standing for the key (an IPv6 key is its network's first address).
    #[cfg(test)]
    fn addr(self) -> IpAddr {
        self.0
    }
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

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_and_mapped_ipv4_by_its_ipv4() {
        let key = |ip: &str| SourceKey::of(ip.parse().expect("ip")).addr().to_string();
        assert_eq!(key("203.0.113.9"), "203.0.113.9");
        assert_eq!(key("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
        assert_eq!(
            SourceKey::of("2001:db8:1:2::1".parse().expect("ip")),
            SourceKey::of("2001:db8:1:2:ffff:ffff:ffff:ffff".parse().expect("ip")),
            "one /64, one key"
        );
        assert_ne!(
            SourceKey::of("2001:db8:1:2::1".parse().expect("ip")),
            SourceKey::of("2001:db8:1:3::1".parse().expect("ip")),
            "the next /64 is another client"
        );
        assert_eq!(key("::1"), "::");
    }
}
