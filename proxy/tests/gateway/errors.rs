//! Every error code over HTTP with its status and headers (`X-Atlantic-Error`, `Proxy-Status`,
//! `Proxy-Authenticate`, `Retry-After`), and the connection caps.

use std::time::{Duration, Instant};

use proxy::{GatewayConfig, PlanLimits};

use crate::http::{assert_error, gateway, gateway_with};
use crate::support::*;

#[tokio::test]
async fn missing_credentials_get_407_auth_required_with_challenge() {
    bounded(20, async {
        let origin = Origin::start().await;
        let gw = gateway().await;
        let r = proxied_get(gw.http, &origin.url("/bytes/1"), None).await;
        assert_error(&r, 407, "auth_required");
        assert_eq!(
            r.header("proxy-authenticate"),
            Some("Basic realm=\"atlantic\"")
        );
        assert!(
            r.header("proxy-status")
                .expect("ps")
                .contains("error=http_request_denied")
        );
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn wrong_password_and_unknown_user_are_bad_credentials() {
    bounded(20, async {
        let origin = Origin::start().await;
        let gw = gateway().await;
        let r = proxied_get(gw.http, &origin.url("/bytes/1"), Some(("alice", "nope"))).await;
        assert_error(&r, 407, "bad_credentials");
        assert!(r.header("proxy-authenticate").is_some());
        let r = proxied_get(
            gw.http,
            &origin.url("/bytes/1"),
            Some(("mallory", "s3cret")),
        )
        .await;
        assert_error(&r, 407, "bad_credentials");
        let (_, r) = connect_tunnel(gw.http, origin.addr, Some(("alice", "nope"))).await;
        assert_error(&r, 407, "bad_credentials");
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn bad_username_parameters_are_400() {
    bounded(20, async {
        let origin = Origin::start().await;
        let gw = gateway().await;
        for user in [
            "alice-country-zz",
            "alice-colour-red",
            "alice-session-s1-ttl-9999",
            "alice-ttl-5",
        ] {
            let r = proxied_get(gw.http, &origin.url("/bytes/1"), Some((user, "s3cret"))).await;
            assert_error(&r, 400, "bad_parameters");
        }
        let r = proxied_get(
            gw.http,
            &origin.url("/bytes/1"),
            Some(("alice-country-zz", "s3cret")),
        )
        .await;
        assert!(
            String::from_utf8_lossy(&r.body).contains("'zz'"),
            "precise reason: {r:?}"
        );
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn no_plan_is_402_quota_exceeded() {
    bounded(20, async {
        let origin = Origin::start().await;
        let gw = gateway_with(test_config(), None).await;
        let r = proxied_get(gw.http, &origin.url("/bytes/1"), Some(("alice", "s3cret"))).await;
        assert_error(&r, 402, "quota_exceeded");
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn rate_limit_is_429_with_retry_after() {
    bounded(20, async {
        let origin = Origin::start().await;
        let plan = PlanLimits {
            requests_per_second: 2,
            ..unlimited()
        };
        let gw = gateway_with(test_config(), Some(plan)).await;
        let mut statuses = Vec::new();
        let mut limited = None;
        for _ in 0..4 {
            let r = proxied_get(gw.http, &origin.url("/bytes/1"), Some(("alice", "s3cret"))).await;
            statuses.push(r.status);
            if r.status == 429 {
                limited = Some(r);
            }
        }
        assert_eq!(&statuses[..2], &[200, 200]);
        let r = limited.expect("a 429 after the burst");
        assert_error(&r, 429, "rate_limited");
        let secs: u64 = r
            .header("retry-after")
            .expect("Retry-After")
            .parse()
            .expect("seconds");
        assert!((1..=2).contains(&secs));
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn concurrent_connection_cap_is_429() {
    bounded(20, async {
        let echo = Echo::start().await;
        let plan = PlanLimits {
            max_connections: 1,
            ..unlimited()
        };
        let gw = gateway_with(test_config(), Some(plan)).await;
        let (_held, r) = connect_tunnel(gw.http, echo.addr, Some(("alice", "s3cret"))).await;
        assert_eq!(r.status, 200);
        let (_, r) = connect_tunnel(gw.http, echo.addr, Some(("alice", "s3cret"))).await;
        assert_error(&r, 429, "rate_limited");
        assert!(r.header("retry-after").is_some());
        drop(_held);
        eventually(5, || {
            gw.handle
                .stats()
                .snapshot()
                .accounts
                .iter()
                .all(|a| a.traffic.active_connections == 0)
        })
        .await;
        let (_, r) = connect_tunnel(gw.http, echo.addr, Some(("alice", "s3cret"))).await;
        assert_eq!(r.status, 200, "slot released when the first tunnel closed");
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn blocked_ports_and_private_destinations_are_403() {
    bounded(20, async {
        let origin = Origin::start().await;
        let gw = gateway().await;
        let r = proxied_get(gw.http, "http://127.0.0.1:25/", Some(("alice", "s3cret"))).await;
        assert_error(&r, 403, "destination_blocked");
        assert!(
            r.header("proxy-status")
                .expect("ps")
                .contains("destination_ip_prohibited")
        );
        gw.stop().await;

        let strict = GatewayConfig {
            allow_private_destinations: false,
            ..test_config()
        };
        let gw = gateway_with(strict, Some(unlimited())).await;
        for url in [
            origin.url("/bytes/1"),
            format!("http://localhost:{}/", origin.addr.port()),
            "http://[::1]:80/".into(),
            "http://10.0.0.1/".into(),
        ] {
            let r = proxied_get(gw.http, &url, Some(("alice", "s3cret"))).await;
            assert_error(&r, 403, "destination_blocked");
        }
        let (_, r) = connect_tunnel(gw.http, origin.addr, Some(("alice", "s3cret"))).await;
        assert_error(&r, 403, "destination_blocked");
        assert_eq!(
            origin.connections.load(std::sync::atomic::Ordering::SeqCst),
            0
        );
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn targeting_without_matching_exit_is_502_no_exit() {
    bounded(20, async {
        let origin = Origin::start().await;
        let gw = gateway().await;
        let r = proxied_get(
            gw.http,
            &origin.url("/bytes/1"),
            Some(("alice-country-de", "s3cret")),
        )
        .await;
        assert_error(&r, 502, "no_exit");
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn refused_destination_is_502_upstream_failed_with_generic_reason() {
    bounded(20, async {
        let closed = closed_port().await;
        let gw = gateway().await;
        let r = proxied_get(
            gw.http,
            &format!("http://{closed}/"),
            Some(("alice", "s3cret")),
        )
        .await;
        assert_error(&r, 502, "upstream_failed");
        assert!(
            !String::from_utf8_lossy(&r.body).contains(&closed.port().to_string()),
            "5xx hides details"
        );
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn silent_upstream_is_504_connect_timeout() {
    bounded(20, async {
        let origin = Origin::start().await;
        let silent = silent_server().await;
        let config = GatewayConfig {
            connect_timeout: Duration::from_millis(400),
            ..test_config()
        };
        let dir = MemDirectory::new(
            vec![account(1, "alice", "s3cret", Some(unlimited()))],
            vec![exit(5, &format!("http://{silent}"), "de")],
        );
        let gw = TestGateway::start(config, dir).await;
        let started = Instant::now();
        let r = proxied_get(gw.http, &origin.url("/bytes/1"), Some(("alice", "s3cret"))).await;
        assert_error(&r, 504, "connect_timeout");
        assert!(started.elapsed() < Duration::from_secs(3));
        // an origin that accepts but never answers is the same code
        let gw2 = gateway_with(
            GatewayConfig {
                idle_timeout: Duration::from_millis(400),
                ..test_config()
            },
            Some(unlimited()),
        )
        .await;
        let r = proxied_get(gw2.http, &origin.url("/slow"), Some(("alice", "s3cret"))).await;
        assert_error(&r, 504, "connect_timeout");
        gw.stop().await;
        gw2.stop().await;
    })
    .await;
}

#[tokio::test]
async fn per_source_and_global_connection_caps() {
    bounded(20, async {
        let echo = Echo::start().await;
        let per_source = GatewayConfig {
            max_connections_per_source: 1,
            ..test_config()
        };
        let gw = gateway_with(per_source, Some(unlimited())).await;
        let (held, r) = connect_tunnel(gw.http, echo.addr, Some(("alice", "s3cret"))).await;
        assert_eq!(r.status, 200);
        let r = proxied_get(
            gw.http,
            &format!("http://{}/", echo.addr),
            Some(("alice", "s3cret")),
        )
        .await;
        assert_error(&r, 429, "rate_limited");
        drop(held);
        gw.stop().await;

        // the global cap holds further clients in the accept backlog until a slot frees
        let global = GatewayConfig {
            max_connections: 1,
            ..test_config()
        };
        let gw = gateway_with(global, Some(unlimited())).await;
        let (held, r) = connect_tunnel(gw.http, echo.addr, Some(("alice", "s3cret"))).await;
        assert_eq!(r.status, 200);
        let waiting = tokio::spawn(connect_tunnel(
            gw.http,
            echo.addr,
            Some(("alice", "s3cret")),
        ));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !waiting.is_finished(),
            "second client waits while the slot is taken"
        );
        drop(held);
        let (_, r) = waiting.await.expect("join");
        assert_eq!(r.status, 200);
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_operators_per_account_ceiling_applies_below_the_plans_cap() {
    bounded(20, async {
        let echo = Echo::start().await;
        let config = GatewayConfig {
            max_connections_per_account: Some(1),
            ..test_config()
        };
        // the plan alone would allow 100,000
        let gw = gateway_with(config, Some(unlimited())).await;
        let (_held, r) = connect_tunnel(gw.http, echo.addr, Some(("alice", "s3cret"))).await;
        assert_eq!(r.status, 200);
        let (_, r) = connect_tunnel(gw.http, echo.addr, Some(("alice", "s3cret"))).await;
        assert_error(&r, 429, "rate_limited");
        let (_, _, reply) =
            socks_connect(gw.socks, "127.0.0.1", echo.addr.port(), "alice", "s3cret").await;
        assert_eq!(reply, Some(0x02), "SOCKS5 is held to the same ceiling");
        gw.stop().await;
    })
    .await;
}
