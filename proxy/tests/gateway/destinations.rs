//! Where customers may not go: every spelling of an internal address, private-use names and
//! names resolving inside a network are refused on both ports before any exit hears of them;
//! exits are sent checked addresses, not names; a destination's failure reported by an exit
//! does not count against it; the service's own listeners are never a destination.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proxy::{GatewayConfig, Lookup, Resolve, Resolver};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::*;

/// Name resolution for these tests (the machine has no DNS): a fixed table.
struct Table(HashMap<&'static str, Vec<IpAddr>>);

impl Resolve for Table {
    fn lookup<'a>(&'a self, host: &'a str, port: u16) -> Lookup<'a> {
        let found = self.0.get(host).map(|ips| {
            ips.iter()
                .map(|ip| SocketAddr::new(*ip, port))
                .collect::<Vec<_>>()
        });
        Box::pin(async move {
            found.ok_or_else(|| std::io::Error::other(format!("{host}: no such name")))
        })
    }
}

fn resolver() -> Resolver {
    let ip = |s: &str| s.parse::<IpAddr>().expect(s);
    Resolver::new(Table(HashMap::from([
        ("169.254.169.254.nip.io", vec![ip("169.254.169.254")]),
        // a rebinding name answers one public and one private address
        ("rebind.example", vec![ip("93.184.215.14"), ip("10.0.0.1")]),
        ("intranet.example", vec![ip("fd00::1")]),
        (
            "public.example",
            vec![ip("2606:2800::1"), ip("93.184.215.14")],
        ),
    ])))
}

/// An upstream HTTP proxy that records the CONNECT targets it is sent and answers each with
/// `status` (a 200 tunnel then echoes).
#[derive(Clone)]
struct RecordingExit {
    addr: SocketAddr,
    targets: Arc<Mutex<Vec<String>>>,
}

impl RecordingExit {
    async fn start(status: &'static str) -> RecordingExit {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind exit");
        let exit = RecordingExit {
            addr: listener.local_addr().expect("addr"),
            targets: Arc::default(),
        };
        let targets = exit.targets.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let targets = targets.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if !matches!(s.read(&mut byte).await, Ok(1)) {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let text = String::from_utf8_lossy(&head);
                    let target = text.split(' ').nth(1).unwrap_or_default().to_owned();
                    targets.lock().expect("lock").push(target);
                    let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                    if s.write_all(answer.as_bytes()).await.is_err() || !status.starts_with("200") {
                        return;
                    }
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        exit
    }

    fn url(&self) -> String {
        format!("http://up:uppw@{}", self.addr)
    }

    fn targets(&self) -> Vec<String> {
        self.targets.lock().expect("lock").clone()
    }
}

fn strict_config() -> GatewayConfig {
    GatewayConfig {
        allow_private_destinations: false,
        resolver: resolver(),
        ..test_config()
    }
}

async fn gateway_with_exit(config: GatewayConfig, exit_url: &str) -> TestGateway {
    let dir = MemDirectory::new(
        vec![account(5, "alice", "s3cret", Some(unlimited()))],
        vec![exit(9, exit_url, "de")],
    );
    TestGateway::start(config, dir).await
}

/// Every form of an internal destination the review found, and what it resolves to.
const INTERNAL: [(&str, &str); 13] = [
    ("localhost", "127.0.0.1"),
    ("app.localhost", "127.0.0.1"),
    ("metadata.google.internal", "169.254.169.254"),
    ("169.254.169.254.nip.io", "169.254.169.254"),
    ("rebind.example", "10.0.0.1"),
    ("intranet.example", "fd00::1"),
    ("2130706433", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("2852039166", "169.254.169.254"),
    ("[::ffff:127.0.0.1]", "127.0.0.1"),
    ("[::1]", "::1"),
];

#[tokio::test]
async fn every_internal_form_is_refused_on_both_ports_and_never_reaches_the_exit() {
    bounded(60, async {
        let exit = RecordingExit::start("200 Connection established").await;
        let gw = gateway_with_exit(strict_config(), &exit.url()).await;
        for (form, resolved) in INTERNAL {
            let mut s = TcpStream::connect(gw.http).await.expect("connect");
            let auth = basic("alice", "s3cret");
            let req = format!("CONNECT {form}:443 HTTP/1.1\r\nProxy-Authorization: {auth}\r\n\r\n");
            s.write_all(req.as_bytes()).await.expect("write");
            let r = read_response(&mut s).await;
            assert_eq!(r.status, 403, "CONNECT {form}");
            assert_eq!(
                r.error_code(),
                Some("destination_blocked"),
                "CONNECT {form}"
            );
            // no DNS oracle: the answer never tells what a name resolved to
            let said = format!("{:?}{}", r.headers, String::from_utf8_lossy(&r.body));
            assert!(
                form.contains(resolved) || !said.contains(resolved),
                "{form}: {said}"
            );

            let host = form.trim_start_matches('[').trim_end_matches(']');
            let get = format!(
                "http://{}/",
                if form.starts_with('[') { form } else { host }
            );
            let r = proxied_get(gw.http, &get, Some(("alice", "s3cret"))).await;
            assert_eq!(r.error_code(), Some("destination_blocked"), "GET {get}");

            // SOCKS5 with the form as a domain name (ATYP 3), as a client would send it
            let (_s, auth_status, reply) =
                socks_connect(gw.socks, form, 443, "alice", "s3cret").await;
            assert_eq!((auth_status, reply), (0, Some(0x02)), "SOCKS5 {form}");
        }
        assert_eq!(
            exit.targets(),
            Vec::<String>::new(),
            "nothing reached the exit"
        );
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_exit_is_sent_the_checked_address_unless_it_forwards_names() {
    bounded(30, async {
        let exit = RecordingExit::start("200 Connection established").await;
        let gw = gateway_with_exit(strict_config(), &exit.url()).await;
        let auth = Some(("alice", "s3cret"));
        let (mut s, r) = connect_tunnel(gw.http, "public.example:443", auth).await;
        assert_eq!(r.status, 200);
        s.write_all(b"ping").await.expect("write");
        let mut echo = [0u8; 4];
        s.read_exact(&mut echo).await.expect("echo");
        assert_eq!(&echo, b"ping");
        let (_s, _, reply) =
            socks_connect(gw.socks, "public.example", 443, "alice", "s3cret").await;
        assert_eq!(reply, Some(0));
        // IPv4 first; the name itself never left the gateway
        assert_eq!(exit.targets(), vec!["93.184.215.14:443"; 2]);
        gw.stop().await;

        let mut forwarding = exit_entry(&exit.url());
        forwarding.forward_names = true;
        let dir = MemDirectory::new(
            vec![account(5, "alice", "s3cret", Some(unlimited()))],
            vec![forwarding],
        );
        let gw = TestGateway::start(strict_config(), dir).await;
        let (_s, r) = connect_tunnel(gw.http, "public.example:443", auth).await;
        assert_eq!(r.status, 200);
        // still checked here first: a rebinding name is refused even for this exit
        let (_s, r) = connect_tunnel(gw.http, "rebind.example:443", auth).await;
        assert_eq!(r.error_code(), Some("destination_blocked"));
        let last = exit.targets().last().cloned();
        assert_eq!(last.as_deref(), Some("public.example:443"));
        gw.stop().await;
    })
    .await;
}

fn exit_entry(url: &str) -> proxy::ExitEntry {
    exit(9, url, "de")
}

#[tokio::test]
async fn destination_failures_reported_by_an_exit_never_open_its_breaker() {
    bounded(30, async {
        let config = || GatewayConfig {
            breaker_failures: 2,
            breaker_cooldown: Duration::from_secs(60),
            ..strict_config()
        };
        // squid's answer to a name it cannot resolve; tinyproxy answers 500
        for status in [
            "503 Service Unavailable",
            "500 Internal Server Error",
            "404 Not Found",
        ] {
            let exit = RecordingExit::start(status).await;
            let gw = gateway_with_exit(config(), &exit.url()).await;
            for _ in 0..6 {
                let (_s, r) =
                    connect_tunnel(gw.http, "93.184.215.14:443", Some(("alice", "s3cret"))).await;
                assert_eq!(r.error_code(), Some("upstream_failed"), "{status}");
                let code = &status[..3];
                let proxy_status = r.header("proxy-status").unwrap_or_default();
                assert!(
                    proxy_status.contains(&format!("received-status={code}")),
                    "{proxy_status}"
                );
            }
            assert_eq!(
                gw.handle.stats().snapshot().exits[0].breaker,
                "closed",
                "{status}"
            );
            gw.stop().await;
        }
        // the exit refusing our own credentials is the exit's failure
        let exit = RecordingExit::start("407 Proxy Authentication Required").await;
        let gw = gateway_with_exit(config(), &exit.url()).await;
        for _ in 0..2 {
            let (_s, r) =
                connect_tunnel(gw.http, "93.184.215.14:443", Some(("alice", "s3cret"))).await;
            assert_eq!(r.error_code(), Some("upstream_failed"));
        }
        assert_eq!(gw.handle.stats().snapshot().exits[0].breaker, "open");
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_services_own_web_port_is_never_a_destination() {
    bounded(30, async {
        let web = TcpListener::bind("127.0.0.1:0").await.expect("bind web");
        let web_addr = web.local_addr().expect("addr");
        let config = GatewayConfig {
            protected_addresses: vec![web_addr],
            ..test_config()
        };
        let dir = MemDirectory::new(
            vec![account(5, "alice", "s3cret", Some(unlimited()))],
            vec![],
        );
        let gw = TestGateway::start(config, dir).await;
        let auth = Some(("alice", "s3cret"));
        for target in [web_addr, gw.http, gw.socks] {
            let r = proxied_get(gw.http, &format!("http://{target}/metrics"), auth).await;
            assert_eq!(r.error_code(), Some("destination_blocked"), "{target}");
            let by_name = format!("localhost:{}", target.port());
            let (_s, r) = connect_tunnel(gw.http, &by_name, auth).await;
            assert_eq!(r.error_code(), Some("destination_blocked"), "{by_name}");
        }
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_socks5_success_reply_does_not_reveal_the_gateways_address() {
    bounded(30, async {
        let origin = Origin::start().await;
        let dir = MemDirectory::new(
            vec![account(5, "alice", "s3cret", Some(unlimited()))],
            vec![],
        );
        let gw = TestGateway::start(test_config(), dir).await;
        let mut s = TcpStream::connect(gw.socks).await.expect("connect");
        s.write_all(&[5, 1, 2]).await.expect("greeting");
        let mut buf = [0u8; 2];
        s.read_exact(&mut buf).await.expect("method");
        s.write_all(b"\x01\x05alice\x06s3cret").await.expect("auth");
        s.read_exact(&mut buf).await.expect("auth status");
        assert_eq!(buf, [1, 0]);
        let IpAddr::V4(ip) = origin.addr.ip() else {
            panic!("origin on IPv4")
        };
        let mut req = vec![5, 1, 0, 1];
        req.extend_from_slice(&ip.octets());
        req.extend_from_slice(&origin.addr.port().to_be_bytes());
        s.write_all(&req).await.expect("request");
        let mut reply = [0u8; 10];
        s.read_exact(&mut reply).await.expect("reply");
        assert_eq!(reply, [5, 0, 0, 1, 0, 0, 0, 0, 0, 0], "BND.ADDR 0.0.0.0:0");
        gw.stop().await;
    })
    .await;
}
