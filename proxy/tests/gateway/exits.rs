//! Exits: chaining through upstream HTTP and SOCKS5 proxies (other gateways in direct mode),
//! targeting, rotation, sticky sessions, failover and circuit breakers.

use std::time::{Duration, Instant};

use proxy::{GatewayConfig, Strategy};
use tokio::net::TcpListener;

use crate::support::*;

fn alice() -> proxy::AccountEntry {
    account(1, "alice", "s3cret", Some(unlimited()))
}

#[tokio::test]
async fn chains_through_http_and_socks5_upstreams_by_country() {
    bounded(30, async {
        let origin = Origin::start().await;
        let up_http = TestGateway::upstream().await;
        let up_socks = TestGateway::upstream().await;
        let exits = vec![
            exit(10, &format!("http://up:uppw@{}", up_http.http), "de"),
            exit(20, &format!("socks5://up:uppw@{}", up_socks.socks), "FR"),
        ];
        let gw = TestGateway::start(test_config(), MemDirectory::new(vec![alice()], exits)).await;
        for (user, n) in [("alice-country-de", 3), ("alice-country-fr", 2)] {
            for _ in 0..n {
                let r =
                    proxied_get(gw.http, &origin.url("/bytes/64"), Some((user, "s3cret"))).await;
                assert_eq!((r.status, r.body.len()), (200, 64));
            }
            let (_, _, reply) =
                socks_connect(gw.socks, "127.0.0.1", origin.addr.port(), user, "s3cret").await;
            assert_eq!(reply, Some(0));
        }
        assert_eq!(up_http.requests_served(), 4);
        assert_eq!(up_socks.requests_served(), 3);
        let stats = gw.handle.stats().snapshot();
        assert_eq!(stats.exits.len(), 2);
        assert!(
            stats
                .exits
                .iter()
                .all(|e| e.healthy && e.successes > 0 && e.latency_ms.is_some())
        );
        assert!(
            stats.exits.iter().all(|e| !e.address.contains("uppw")),
            "no credentials in stats"
        );
        let sink = gw.stop().await;
        let mut by_exit: Vec<(i64, String, u64)> = sink
            .records()
            .iter()
            .map(|r| (r.exit_id, r.country.clone(), r.requests))
            .collect();
        by_exit.sort();
        assert_eq!(by_exit, vec![(10, "de".into(), 4), (20, "fr".into(), 3)]);
        up_http.stop().await;
        up_socks.stop().await;
    })
    .await;
}

/// Three upstream gateways as exits 1..=3 (country `de`) behind a gateway using `strategy`;
/// `pool` is its `forward_pool_max_idle`.
async fn three_upstreams(strategy: Strategy, pool: usize) -> (Vec<TestGateway>, TestGateway) {
    let config = GatewayConfig {
        strategy,
        forward_pool_max_idle: pool,
        ..test_config()
    };
    three_upstreams_with(config).await
}

/// Round robin over fresh connections (no shared origin connections), with `session_ttl`: each
/// request picks its exit, so the upstreams' counts show where a session went.
fn round_robin_sessions(session_ttl: Duration) -> GatewayConfig {
    GatewayConfig {
        strategy: Strategy::RoundRobin,
        forward_pool_max_idle: 0,
        session_ttl,
        ..test_config()
    }
}

/// Stops the gateway, then its upstreams.
async fn stop_all(gw: TestGateway, ups: Vec<TestGateway>) {
    gw.stop().await;
    for u in ups {
        u.stop().await;
    }
}

/// Three upstream gateways as exits 1..=3 (country `de`) behind a gateway with `config`.
async fn three_upstreams_with(config: GatewayConfig) -> (Vec<TestGateway>, TestGateway) {
    let mut ups = Vec::new();
    for _ in 0..3 {
        ups.push(TestGateway::upstream().await);
    }
    let exits = ups
        .iter()
        .enumerate()
        .map(|(i, u)| exit(i as i64 + 1, &format!("http://up:uppw@{}", u.http), "de"))
        .collect();
    let gw = TestGateway::start(config, MemDirectory::new(vec![alice()], exits)).await;
    (ups, gw)
}

#[tokio::test]
async fn rotation_spreads_requests_over_exits() {
    bounded(30, async {
        let origin = Origin::start().await;
        for strategy in [Strategy::RoundRobin, Strategy::LeastConnections] {
            let (ups, gw) = three_upstreams(strategy, 4096).await;
            for _ in 0..9 {
                let r =
                    proxied_get(gw.http, &origin.url("/bytes/1"), Some(("alice", "s3cret"))).await;
                assert_eq!(r.status, 200);
            }
            let served: Vec<u64> = ups.iter().map(TestGateway::requests_served).collect();
            assert_eq!(served, vec![3, 3, 3], "{strategy:?}");
            stop_all(gw, ups).await;
        }
    })
    .await;
}

#[tokio::test]
async fn sticky_session_keeps_exit_across_connections() {
    bounded(30, async {
        let origin = Origin::start().await;
        // shared reuse off: each request must pick its exit, so the upstreams count requests
        let (ups, gw) = three_upstreams(Strategy::RoundRobin, 0).await;
        for _ in 0..6 {
            let r = proxied_get(
                gw.http,
                &origin.url("/bytes/1"),
                Some(("alice-session-abc123-ttl-5", "s3cret")),
            )
            .await;
            assert_eq!(r.status, 200);
        }
        let served: Vec<u64> = ups.iter().map(TestGateway::requests_served).collect();
        assert_eq!(
            served.iter().filter(|n| **n == 6).count(),
            1,
            "one exit served the whole session: {served:?}"
        );
        // another session is free to land elsewhere; without a session, rotation resumes
        for _ in 0..3 {
            proxied_get(gw.http, &origin.url("/bytes/1"), Some(("alice", "s3cret"))).await;
        }
        let after: Vec<u64> = ups.iter().map(TestGateway::requests_served).collect();
        assert_eq!(after.iter().sum::<u64>(), 9);
        assert!(after.iter().all(|n| *n >= 1), "{after:?}");
        stop_all(gw, ups).await;
    })
    .await;
}

/// Sends one request as `user` through `gw` and returns the index of the upstream in `ups`
/// that served it.
async fn exit_used(gw: &TestGateway, ups: &[TestGateway], origin: &Origin, user: &str) -> usize {
    let before: Vec<u64> = ups.iter().map(TestGateway::requests_served).collect();
    let r = proxied_get(gw.http, &origin.url("/bytes/1"), Some((user, "s3cret"))).await;
    assert_eq!(r.status, 200, "{user}");
    let after: Vec<u64> = ups.iter().map(TestGateway::requests_served).collect();
    let used: Vec<usize> = (0..ups.len()).filter(|&i| after[i] != before[i]).collect();
    assert_eq!(
        used.len(),
        1,
        "one upstream served it: {before:?} -> {after:?}"
    );
    used[0]
}

#[tokio::test]
async fn sticky_session_keeps_exit_until_ttl_then_picks_again() {
    bounded(30, async {
        let origin = Origin::start().await;
        // A session without `-ttl-` lives `session_ttl`; the test moves the clock past it.
        // Shared reuse off: every request picks its exit, and the upstreams count requests.
        let ttl = Duration::from_secs(10);
        let (ups, gw) = three_upstreams_with(round_robin_sessions(ttl)).await;
        let user = "alice-session-expiring";
        let started = Instant::now();
        let first = exit_used(&gw, &ups, &origin, user).await;
        for _ in 0..3 {
            // round robin alone would have moved each of these on by one exit
            assert_eq!(exit_used(&gw, &ups, &origin, user).await, first);
        }
        let within = started.elapsed();
        assert!(within < ttl, "too slow to test within the TTL: {within:?}");

        // bound while the first request was served, so before now
        pass(ttl + Duration::from_millis(100)).await;
        // The fifth pick of round robin starts one exit after the first: an expired session
        // goes there; a live one would have stayed.
        let next = exit_used(&gw, &ups, &origin, user).await;
        assert_ne!(next, first, "after its TTL the session picks an exit again");
        for _ in 0..2 {
            assert_eq!(
                exit_used(&gw, &ups, &origin, user).await,
                next,
                "and is bound to the new one for a fresh TTL"
            );
        }
        stop_all(gw, ups).await;
    })
    .await;
}

#[tokio::test]
async fn username_ttl_outlasts_the_default_session_ttl() {
    bounded(30, async {
        let origin = Origin::start().await;
        let default_ttl = Duration::from_secs(5);
        let (ups, gw) = three_upstreams_with(round_robin_sessions(default_ttl)).await;
        // `-ttl-1` is one minute; `short` has no `-ttl-`, so it lives `session_ttl`
        let (long, short) = ("alice-session-long-ttl-1", "alice-session-short");
        let long_exit = exit_used(&gw, &ups, &origin, long).await;
        let short_exit = exit_used(&gw, &ups, &origin, short).await;
        assert_ne!(long_exit, short_exit, "round robin spread the two sessions");
        pass(default_ttl + Duration::from_millis(100)).await;

        // picks 3 to 5 of round robin would start at exits 3, 1 and 2 (indices 2, 0, 1)
        assert_eq!(exit_used(&gw, &ups, &origin, long).await, long_exit);
        assert_ne!(
            exit_used(&gw, &ups, &origin, short).await,
            short_exit,
            "the session without -ttl- expired"
        );
        assert_eq!(
            exit_used(&gw, &ups, &origin, long).await,
            long_exit,
            "the session with -ttl-1 did not"
        );
        stop_all(gw, ups).await;
    })
    .await;
}

#[tokio::test]
async fn sticky_session_moves_only_when_its_exit_dies() {
    bounded(30, async {
        let origin = Origin::start().await;
        let (mut ups, gw) = three_upstreams(Strategy::RoundRobin, 0).await;
        let user = ("alice-session-moving", "s3cret");
        assert_eq!(
            proxied_get(gw.http, &origin.url("/bytes/1"), Some(user))
                .await
                .status,
            200
        );
        let idx = ups
            .iter()
            .position(|u| u.requests_served() == 1)
            .expect("one exit used");
        ups.remove(idx).stop().await;
        for _ in 0..4 {
            assert_eq!(
                proxied_get(gw.http, &origin.url("/bytes/1"), Some(user))
                    .await
                    .status,
                200
            );
        }
        let served: Vec<u64> = ups.iter().map(TestGateway::requests_served).collect();
        assert!(
            served.contains(&4),
            "the session moved to one surviving exit and stayed: {served:?}"
        );
        stop_all(gw, ups).await;
    })
    .await;
}

#[tokio::test]
async fn failover_when_an_upstream_is_killed_is_fast() {
    bounded(30, async {
        let origin = Origin::start().await;
        let (mut ups, gw) = three_upstreams(Strategy::RoundRobin, 0).await;
        ups.remove(0).stop().await;
        let mut worst = Duration::ZERO;
        for _ in 0..12 {
            let started = Instant::now();
            let r = proxied_get(gw.http, &origin.url("/bytes/1"), Some(("alice", "s3cret"))).await;
            worst = worst.max(started.elapsed());
            assert_eq!(r.status, 200, "failover hides the dead exit");
        }
        assert!(
            worst < Duration::from_millis(500),
            "a refusing upstream adds little: {worst:?}"
        );
        let dead = gw
            .handle
            .stats()
            .snapshot()
            .exits
            .into_iter()
            .find(|e| e.id == 1)
            .expect("exit 1");
        assert_eq!(dead.breaker, "open", "{dead:?}");
        stop_all(gw, ups).await;
    })
    .await;
}

#[tokio::test]
async fn breaker_opens_then_half_open_probe_closes_it() {
    bounded(30, async {
        let origin = Origin::start().await;
        // reserve a port, close it: the exit refuses until an upstream appears there
        let port = closed_port().await.port();
        let config = GatewayConfig {
            breaker_failures: 2,
            breaker_cooldown: Duration::from_millis(300),
            ..test_config()
        };
        let dir = MemDirectory::new(
            vec![alice()],
            vec![exit(7, &format!("http://up:uppw@127.0.0.1:{port}"), "de")],
        );
        let gw = TestGateway::start(config, dir).await;
        for _ in 0..2 {
            let r = proxied_get(gw.http, &origin.url("/bytes/1"), Some(("alice", "s3cret"))).await;
            assert_eq!(r.error_code(), Some("upstream_failed"));
        }
        let r = proxied_get(gw.http, &origin.url("/bytes/1"), Some(("alice", "s3cret"))).await;
        assert_eq!(
            r.error_code(),
            Some("no_exit"),
            "breaker open: no healthy exit"
        );
        assert_eq!(gw.handle.stats().snapshot().exits[0].breaker, "open");

        let http = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("rebind the exit's port");
        let socks = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let up_dir = MemDirectory::new(vec![account(1, "up", "uppw", Some(unlimited()))], vec![]);
        let up = TestGateway::start_on(test_config(), up_dir, http, socks).await;
        // past the cool-down
        pass(Duration::from_millis(350)).await;
        let r = proxied_get(gw.http, &origin.url("/bytes/1"), Some(("alice", "s3cret"))).await;
        assert_eq!(r.status, 200, "the half-open probe went through");
        assert_eq!(gw.handle.stats().snapshot().exits[0].breaker, "closed");
        gw.stop().await;
        up.stop().await;
    })
    .await;
}

#[tokio::test]
async fn active_health_probe_marks_dead_exits() {
    bounded(30, async {
        let port = closed_port().await.port();
        let config = GatewayConfig {
            breaker_failures: 1,
            breaker_cooldown: Duration::from_secs(60),
            health_interval: Some(Duration::from_millis(100)),
            ..test_config()
        };
        let dir = MemDirectory::new(
            vec![alice()],
            vec![exit(7, &format!("http://127.0.0.1:{port}"), "de")],
        );
        let gw = TestGateway::start(config, dir).await;
        eventually(5, || {
            gw.handle
                .stats()
                .snapshot()
                .exits
                .first()
                .is_some_and(|e| e.breaker == "open")
        })
        .await;
        assert!(!gw.handle.stats().snapshot().exits[0].healthy);
        gw.stop().await;
    })
    .await;
}

#[tokio::test]
async fn session_requests_share_pooled_connections_but_rotating_ones_do_not() {
    bounded(30, async {
        let origin = Origin::start().await;
        let (ups, gw) = three_upstreams(Strategy::RoundRobin, 4096).await;
        for _ in 0..3 {
            let user = Some(("alice-session-pooled", "s3cret"));
            assert_eq!(
                proxied_get(gw.http, &origin.url("/bytes/1"), user)
                    .await
                    .status,
                200
            );
        }
        let served: Vec<u64> = ups.iter().map(TestGateway::requests_served).collect();
        assert_eq!(
            served.iter().sum::<u64>(),
            1,
            "one tunnel through the session's exit: {served:?}"
        );
        for _ in 0..3 {
            let user = Some(("alice", "s3cret"));
            assert_eq!(
                proxied_get(gw.http, &origin.url("/bytes/1"), user)
                    .await
                    .status,
                200
            );
        }
        let served: Vec<u64> = ups.iter().map(TestGateway::requests_served).collect();
        assert_eq!(
            served.iter().sum::<u64>(),
            4,
            "each rotating request opened its own: {served:?}"
        );
        stop_all(gw, ups).await;
    })
    .await;
}

/// Waits until every exit of `gw` has been checked at least once.
async fn checked(gw: &TestGateway) -> Vec<proxy::ExitStats> {
    loop {
        let exits = gw.handle.stats().snapshot().exits;
        if !exits.is_empty() && exits.iter().all(|e| e.last_check_passed.is_some()) {
            return exits;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn health_probes_do_the_full_handshake_with_the_exit_credentials() {
    bounded(30, async {
        let origin = Origin::start().await;
        let up = TestGateway::upstream().await;
        let dead = closed_port().await;
        let exits = vec![
            exit(1, &format!("http://up:uppw@{}", up.http), "de"),
            exit(2, &format!("http://up:wrong@{}", up.http), "de"),
            exit(3, &format!("socks5://up:uppw@{}", up.socks), "de"),
            exit(4, &format!("socks5://up:wrong@{}", up.socks), "de"),
            exit(5, &format!("http://up:uppw@{dead}"), "de"),
        ];
        // no traffic and no periodic round within the test: only the probe of new exits runs
        let config = GatewayConfig {
            health_interval: Some(Duration::from_secs(3600)),
            health_probe_target: proxy::Destination::from_host("127.0.0.1", origin.addr.port())
                .expect("target"),
            breaker_failures: 1,
            ..test_config()
        };
        let gw = TestGateway::start(config, MemDirectory::new(vec![alice()], exits)).await;
        let exits = checked(&gw).await;
        let verdicts: Vec<(i64, bool, bool)> = exits
            .iter()
            .map(|e| (e.id, e.last_check_passed == Some(true), e.healthy))
            .collect();
        assert_eq!(
            verdicts,
            vec![
                (1, true, true),
                (2, false, false),
                (3, true, true),
                (4, false, false),
                (5, false, false)
            ]
        );
        let error = |id: i64| {
            exits
                .iter()
                .find(|e| e.id == id)
                .and_then(|e| e.last_error.clone())
                .unwrap_or_default()
        };
        assert!(error(2).contains("407"), "{}", error(2));
        assert!(error(4).contains("authentication refused"), "{}", error(4));
        assert!(!error(2).contains("wrong"), "no credentials in errors");
        // the probes reached the target through the good exits (one tunnel each)
        eventually(5, || {
            origin.connections.load(std::sync::atomic::Ordering::SeqCst) == 2
        })
        .await;
        gw.stop().await;
        up.stop().await;
    })
    .await;
}

#[tokio::test]
async fn health_probes_pass_exits_that_cannot_reach_the_target() {
    bounded(30, async {
        let up = TestGateway::upstream().await;
        let exits = vec![exit(1, &format!("http://up:uppw@{}", up.http), "de")];
        let target = closed_port().await;
        let config = GatewayConfig {
            health_interval: Some(Duration::from_secs(3600)),
            health_probe_target: proxy::Destination::from_host("127.0.0.1", target.port())
                .expect("target"),
            breaker_failures: 1,
            ..test_config()
        };
        let gw = TestGateway::start(config, MemDirectory::new(vec![alice()], exits)).await;
        let exits = checked(&gw).await;
        assert_eq!(exits[0].last_check_passed, Some(true), "{:?}", exits[0]);
        assert!(exits[0].healthy);
        gw.stop().await;
        up.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_server_that_speaks_first_is_heard_through_a_socks5_exit() {
    bounded(20, async {
        const BANNER: &[u8] = b"SSH-2.0-atlantic-test\r\n";
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let banner = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                use tokio::io::AsyncWriteExt;
                // the banner, then the server hangs up: both must reach the client
                let _ = s.write_all(BANNER).await;
            }
        });
        let up = TestGateway::upstream().await;
        let exits = vec![exit(20, &format!("socks5://up:uppw@{}", up.socks), "fr")];
        let gw = TestGateway::start(test_config(), MemDirectory::new(vec![alice()], exits)).await;
        for _ in 0..5 {
            let (mut s, _, reply) =
                socks_connect(gw.socks, "127.0.0.1", banner.port(), "alice", "s3cret").await;
            assert_eq!(reply, Some(0));
            let mut got = vec![0u8; BANNER.len()];
            tokio::io::AsyncReadExt::read_exact(&mut s, &mut got)
                .await
                .expect("banner");
            assert_eq!(got, BANNER);
            let rest = tokio::io::AsyncReadExt::read(&mut s, &mut got)
                .await
                .expect("end");
            assert_eq!(rest, 0, "the server's close is passed on");
        }
        gw.stop().await;
        up.stop().await;
    })
    .await;
}

#[tokio::test]
async fn ending_a_session_closes_its_tunnels_unlists_it_and_moves_it_to_another_exit() {
    use tokio::io::AsyncReadExt;
    bounded(30, async {
        let origin = Origin::start().await;
        let (ups, gw) = three_upstreams_with(round_robin_sessions(Duration::from_secs(600))).await;
        let user = "alice-session-shop1";
        let first = exit_used(&gw, &ups, &origin, user).await;
        let (mut tunnel, r) = connect_tunnel(gw.http, origin.addr, Some((user, "s3cret"))).await;
        assert_eq!(r.status, 200);
        let exit_id = first as i64 + 1;
        assert_eq!(
            r.header("x-atlantic-exit"),
            Some(exit_id.to_string().as_str()),
            "the CONNECT answer names the exit"
        );
        let snapshot = gw.handle.stats().snapshot();
        let listed: Vec<&proxy::SessionStats> = snapshot
            .sessions
            .iter()
            .filter(|s| s.session == "shop1")
            .collect();
        assert_eq!(listed.len(), 1, "{:?}", snapshot.sessions);
        let s = listed[0];
        assert_eq!(s.exit_id, exit_id);
        assert!(s.open_connections >= 1, "the open tunnel: {s:?}");
        assert!(s.bytes_down > 0, "the first request's bytes: {s:?}");
        assert!(s.expires_at_ms > snapshot.taken_at_ms + 590_000, "{s:?}");
        let account = s.account_id;

        assert!(gw.handle.end_session(account, "shop1"));
        let mut rest = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(3), tunnel.read_to_end(&mut rest))
            .await
            .expect("closed by the gateway")
            .unwrap_or(0);
        assert_eq!(n, 0);
        let after = gw.handle.stats().snapshot();
        assert!(after.sessions.iter().all(|s| s.session != "shop1"));
        assert!(!gw.handle.end_session(account, "shop1"), "ended already");
        assert!(
            !gw.handle.end_session(account + 1, "shop1"),
            "another account's"
        );
        let next = exit_used(&gw, &ups, &origin, user).await;
        assert_ne!(next, first, "a new exit after ending");
        assert_eq!(
            exit_used(&gw, &ups, &origin, user).await,
            next,
            "and sticky again"
        );
        stop_all(gw, ups).await;
    })
    .await;
}
