//! Faults of upstream exits: an exit that dies under running tunnels, one that refuses or
//! black-holes new connections, and one that comes back. A client must never hang on a faulty
//! exit, the meter must hold exactly what was relayed, new requests must fail over within the
//! connect budget, and a faulty exit's breaker must open, then close once the exit works again.

use std::time::{Duration, Instant};

use proxy::{AccountEntry, ExitStats, GatewayConfig, Strategy, UsageRecord};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::*;

#[path = "support/exit_front.rs"]
mod exit_front;
#[path = "support/panic_watch.rs"]
mod panic_watch;

use exit_front::ExitFront;
use panic_watch::PanicWatch;

/// Small, so that a black hole eating the whole budget would show.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Scheduling slack on a busy two-core machine, over the connect timeout.
const MARGIN: Duration = Duration::from_millis(400);
/// How long a client may take to learn that its tunnel's exit died.
const ENDED_WITHIN: Duration = Duration::from_secs(2);

fn alice() -> AccountEntry {
    account(1, "alice", "s3cret", Some(unlimited()))
}

/// Round robin, so the faulty exit is first in every other request's candidates; no shared
/// origin connections, so each forward request picks its exit; breakers that stay open for
/// the test unless `cooldown` says otherwise.
fn fault_config(cooldown: Duration) -> GatewayConfig {
    GatewayConfig {
        strategy: Strategy::RoundRobin,
        forward_pool_max_idle: 0,
        connect_timeout: CONNECT_TIMEOUT,
        breaker_failures: 2,
        breaker_cooldown: cooldown,
        ..test_config()
    }
}

/// A gateway in direct mode, as an upstream, that cuts its running connections the moment
/// it is stopped (no drain).
async fn upstream_without_drain() -> TestGateway {
    let config = GatewayConfig {
        drain_timeout: Duration::ZERO,
        ..test_config()
    };
    let dir = MemDirectory::new(vec![account(1, "up", "uppw", Some(unlimited()))], vec![]);
    TestGateway::start(config, dir).await
}

/// A real upstream gateway listening (HTTP) on `addr`, where a faulty exit was.
async fn upstream_on(addr: std::net::SocketAddr) -> TestGateway {
    let http = TcpListener::bind(addr)
        .await
        .expect("rebind the exit's port");
    let socks = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dir = MemDirectory::new(vec![account(1, "up", "uppw", Some(unlimited()))], vec![]);
    TestGateway::start_on(test_config(), dir, http, socks).await
}

/// The state of exit `id`'s breaker (`""` until the gateway has loaded its directory).
fn breaker(gw: &TestGateway, id: i64) -> String {
    gw.handle
        .stats()
        .snapshot()
        .exits
        .into_iter()
        .find(|e| e.id == id)
        .map(|e| e.breaker)
        .unwrap_or_default()
}

fn exit_stats(gw: &TestGateway, id: i64) -> ExitStats {
    gw.handle
        .stats()
        .snapshot()
        .exits
        .into_iter()
        .find(|e| e.id == id)
        .expect("exit listed")
}

/// (bytes up, bytes down, requests, errors) the sink holds for one exit.
fn exit_totals(records: &[UsageRecord], exit_id: i64) -> (u64, u64, u64, u64) {
    records
        .iter()
        .filter(|r| r.exit_id == exit_id)
        .fold((0, 0, 0, 0), |t, r| {
            (
                t.0 + r.bytes_up,
                t.1 + r.bytes_down,
                t.2 + r.requests,
                t.3 + r.errors,
            )
        })
}

/// Which front of the gateway a customer tunnel comes in by.
#[derive(Debug, Clone, Copy)]
enum Front {
    Connect,
    Socks,
}

/// A customer tunnel to the echo server through the gateway, with the payload bytes the
/// client counted each way.
struct Tunnel {
    stream: TcpStream,
    /// The exit the gateway named in its CONNECT answer (SOCKS5 names none).
    exit: Option<String>,
    sent: u64,
    echoed: u64,
}

impl Tunnel {
    async fn open(front: Front, gw: &TestGateway, echo: &Echo, user: &str) -> Tunnel {
        let (stream, exit) = match front {
            Front::Connect => {
                let (s, r) = connect_tunnel(gw.http, echo.addr, Some((user, "s3cret"))).await;
                assert_eq!(r.status, 200, "{r:?}");
                (s, r.header("x-atlantic-exit").map(str::to_owned))
            }
            Front::Socks => {
                let (s, status, reply) =
                    socks_connect(gw.socks, "127.0.0.1", echo.addr.port(), user, "s3cret").await;
                assert_eq!((status, reply), (0, Some(0)), "SOCKS5 CONNECT");
                (s, None)
            }
        };
        Tunnel {
            stream,
            exit,
            sent: 0,
            echoed: 0,
        }
    }

    /// Sends `len` bytes and reads their echo back whole, so that every byte counted here
    /// went through the relay both ways.
    async fn echo(&mut self, len: usize) {
        let chunk: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut back = vec![0u8; len];
        let (mut rd, mut wr) = self.stream.split();
        let (w, r) = tokio::join!(wr.write_all(&chunk), rd.read_exact(&mut back));
        w.expect("write a chunk");
        r.expect("read its echo");
        assert!(back == chunk, "the echo came back intact");
        self.sent += len as u64;
        self.echoed += len as u64;
    }

    /// Waits for the end of the tunnel as the client sees it, an EOF or a reset and never
    /// another byte, and returns how long after `since` it came.
    async fn ended(&mut self, since: Instant) -> Duration {
        let mut buf = [0u8; 64];
        match tokio::time::timeout(ENDED_WITHIN, self.stream.read(&mut buf)).await {
            Err(_) => panic!("the tunnel still hangs {ENDED_WITHIN:?} after its exit died"),
            Ok(Ok(0)) => {}
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Ok(Ok(n)) => panic!("{n} bytes arrived after the exit died"),
            Ok(Err(e)) => panic!("the tunnel failed oddly: {e}"),
        }
        since.elapsed()
    }
}

/// How the exit under the running tunnels dies.
#[derive(Debug, Clone, Copy)]
enum Death {
    /// Its address resets every connection and refuses new ones (the host died).
    Cut,
    /// Its upstream gateway stops and cuts its connections without draining (FIN).
    Stop,
}

/// Payload sizes each doomed tunnel echoes before the exit dies: one tunnel crosses into the
/// relay's `splice` path, the others copy.
const CHUNKS: [&[usize]; 4] = [
    &[1, 1_500, 700_000],
    &[65_536, 3],
    &[10, 20_000],
    &[300_000],
];

/// Four tunnels (CONNECT and SOCKS5) run through exit 1 (`de`), one through exit 2 (`fr`);
/// exit 1 dies. Its tunnels end promptly on the client side, the other one keeps working, and
/// the flushed usage is exactly what the clients counted: a tunnel that was established and
/// relayed is a served request, so its exit dying later is no error.
async fn tunnels_through_a_dying_exit(death: Death) {
    let watch = PanicWatch::start();
    let echo = Echo::start().await;
    let doomed = upstream_without_drain().await;
    let (front, doomed_url) = match death {
        Death::Cut => {
            let front = ExitFront::forwarding(doomed.http).await;
            let url = format!("http://up:uppw@{}", front.addr);
            (Some(front), url)
        }
        Death::Stop => (None, format!("socks5://up:uppw@{}", doomed.socks)),
    };
    let survivor = TestGateway::upstream().await;
    let exits = vec![
        exit(1, &doomed_url, "de"),
        exit(2, &format!("http://up:uppw@{}", survivor.http), "fr"),
    ];
    let gw = TestGateway::start(
        fault_config(Duration::from_secs(60)),
        MemDirectory::new(vec![alice()], exits),
    )
    .await;

    let fronts = [Front::Connect, Front::Socks, Front::Connect, Front::Socks];
    let mut tunnels = Vec::new();
    for (front, chunks) in fronts.into_iter().zip(CHUNKS) {
        let mut t = Tunnel::open(front, &gw, &echo, "alice-country-de").await;
        for &len in chunks {
            t.echo(len).await;
        }
        tunnels.push(t);
    }
    let mut kept = Tunnel::open(Front::Connect, &gw, &echo, "alice-country-fr").await;
    kept.echo(1_000).await;
    assert!(
        tunnels
            .iter()
            .all(|t| t.exit.as_deref().is_none_or(|e| e == "1"))
    );
    assert_eq!(kept.exit.as_deref(), Some("2"));
    assert_eq!(
        exit_stats(&gw, 1).active_connections,
        4,
        "all four on exit 1"
    );

    let killed = Instant::now();
    let doomed = match (death, front) {
        (Death::Cut, Some(front)) => {
            front.cut().await;
            Some(doomed)
        }
        _ => {
            doomed.stop().await;
            None
        }
    };
    let ends = futures::future::join_all(tunnels.iter_mut().map(|t| t.ended(killed))).await;
    let slowest = ends.iter().max().copied().unwrap_or_default();
    assert!(slowest < ENDED_WITHIN, "ended {ends:?} after the exit died");
    if let Death::Cut = death {
        // a reset exit leaves nothing to wait for: the gateway closes the tunnels itself
        eventually(5, || exit_stats(&gw, 1).active_connections == 0).await;
    }
    let (sent, echoed) = tunnels
        .iter()
        .fold((0, 0), |(s, e), t| (s + t.sent, e + t.echoed));
    drop(tunnels);
    eventually(5, || {
        exit_stats(&gw, 1).active_connections == 0
            && gw.handle.stats().snapshot().global.active_connections == 1
    })
    .await;

    kept.echo(5_000).await;
    let kept_counts = (kept.sent, kept.echoed);
    drop(kept);
    eventually(5, || {
        gw.handle.stats().snapshot().global.active_connections == 0
    })
    .await;

    let sink = gw.stop().await;
    let records = sink.records();
    assert_eq!(
        exit_totals(&records, 1),
        (sent, echoed, 4, 0),
        "{records:?}"
    );
    assert_eq!(
        exit_totals(&records, 2),
        (kept_counts.0, kept_counts.1, 1, 0),
        "{records:?}"
    );
    assert_eq!(
        sink.totals(1),
        (sent + kept_counts.0, echoed + kept_counts.1, 5, 0),
        "nothing booked elsewhere: {records:?}"
    );
    assert_eq!(
        echo.bytes.load(std::sync::atomic::Ordering::SeqCst),
        sent + kept_counts.0,
        "the echo server got what was counted up"
    );
    survivor.stop().await;
    if let Some(doomed) = doomed {
        doomed.stop().await;
    }
    watch.assert_none();
}

#[tokio::test]
async fn tunnels_end_promptly_and_are_metered_exactly_when_their_exit_is_cut_off() {
    bounded(40, tunnels_through_a_dying_exit(Death::Cut)).await;
}

#[tokio::test]
async fn tunnels_end_promptly_and_are_metered_exactly_when_their_exit_gateway_stops() {
    bounded(40, tunnels_through_a_dying_exit(Death::Stop)).await;
}

/// Exit 1 (HTTP) sits behind a front that can fail; exit 2 (SOCKS5) is a healthy upstream.
struct Pool {
    front: Option<ExitFront>,
    /// The upstream behind the front (unused behind a black hole).
    behind: TestGateway,
    healthy: TestGateway,
    gw: TestGateway,
    echo: Echo,
    origin: Origin,
}

impl Pool {
    /// `config` is given the echo server, as the target of health probes.
    async fn start(config: impl FnOnce(&Echo) -> GatewayConfig, black_hole: bool) -> Pool {
        let echo = Echo::start().await;
        let behind = TestGateway::upstream().await;
        let front = if black_hole {
            ExitFront::black_hole().await
        } else {
            ExitFront::forwarding(behind.http).await
        };
        let healthy = TestGateway::upstream().await;
        let exits = vec![
            exit(1, &format!("http://up:uppw@{}", front.addr), "de"),
            exit(2, &format!("socks5://up:uppw@{}", healthy.socks), "de"),
        ];
        let gw = TestGateway::start(config(&echo), MemDirectory::new(vec![alice()], exits)).await;
        Pool {
            front: Some(front),
            behind,
            healthy,
            gw,
            echo,
            origin: Origin::start().await,
        }
    }

    /// Cuts exit 1 off (see [`ExitFront::cut`]); returns its address.
    async fn cut(&mut self) -> std::net::SocketAddr {
        self.front.take().expect("exit 1 still up").cut().await
    }

    /// One CONNECT, one SOCKS5 and one forward request, each timed from the client's first
    /// byte to the gateway's answer; each tunnel echoes [`ROUND_ECHO`] bytes. Returns the
    /// answer times, the exits the CONNECT answers named, and the bytes the client received
    /// for the forward request.
    async fn round(&self) -> (Vec<Duration>, Vec<String>, u64) {
        let mut times = Vec::new();
        let mut named = Vec::new();
        for front in [Front::Connect, Front::Socks] {
            let started = Instant::now();
            let mut t = Tunnel::open(front, &self.gw, &self.echo, "alice").await;
            times.push(started.elapsed());
            t.echo(ROUND_ECHO as usize).await;
            named.extend(t.exit);
        }
        let started = Instant::now();
        let r = proxied_get(
            self.gw.http,
            &self.origin.url("/bytes/10"),
            Some(("alice", "s3cret")),
        )
        .await;
        times.push(started.elapsed());
        assert_eq!((r.status, r.body.len()), (200, 10), "{r:?}");
        (times, named, r.received as u64)
    }

    /// CONNECT tunnels opened one after the other until one goes through exit 1 (round robin
    /// offers it every other time), which then echoes; whether one did within `tries`.
    async fn reaches_exit_1(&self, tries: usize) -> bool {
        for _ in 0..tries {
            let mut t = Tunnel::open(Front::Connect, &self.gw, &self.echo, "alice").await;
            if t.exit.as_deref() == Some("1") {
                t.echo(ROUND_ECHO as usize).await;
                return true;
            }
        }
        false
    }

    async fn stop(self) -> RecordingSink {
        let sink = self.gw.stop().await;
        if let Some(front) = self.front {
            front.cut().await;
        }
        self.behind.stop().await;
        self.healthy.stop().await;
        sink
    }
}

/// Bytes each tunnel of a [`Pool::round`] echoes.
const ROUND_ECHO: u64 = 100;

fn bytes_in(origin: &Origin) -> u64 {
    origin.bytes_in.load(std::sync::atomic::Ordering::SeqCst)
}

#[tokio::test]
async fn after_an_exit_dies_new_requests_fail_over_within_the_connect_timeout() {
    bounded(40, async {
        let watch = PanicWatch::start();
        let mut pool = Pool::start(|_| fault_config(Duration::from_secs(60)), false).await;
        // round robin: the first tunnel goes through exit 1, the second through exit 2
        let mut named = Vec::new();
        for _ in 0..2 {
            let mut t = Tunnel::open(Front::Connect, &pool.gw, &pool.echo, "alice").await;
            t.echo(ROUND_ECHO as usize).await;
            named.extend(t.exit);
        }
        assert_eq!(named, ["1", "2"], "both exits worked before exit 1 died");

        pool.cut().await;
        let (mut worst, mut received) = (Duration::ZERO, 0);
        for _ in 0..4 {
            let (times, named, got) = pool.round().await;
            worst = worst.max(times.into_iter().max().unwrap_or_default());
            assert_eq!(named, ["2"], "the dead exit is failed over");
            received += got;
        }
        assert!(
            worst < CONNECT_TIMEOUT + MARGIN,
            "the slowest answer took {worst:?}"
        );
        let dead = exit_stats(&pool.gw, 1);
        assert_eq!(dead.breaker, "open", "{dead:?}");
        assert!(!dead.healthy);
        assert_eq!(exit_stats(&pool.gw, 2).breaker, "closed");

        let forwarded = bytes_in(&pool.origin);
        let sink = pool.stop().await;
        let records = sink.records();
        assert_eq!(
            exit_totals(&records, 1),
            (ROUND_ECHO, ROUND_ECHO, 1, 0),
            "exit 1 served the first tunnel only: {records:?}"
        );
        // failover hides the dead exit from the customer: no request failed
        let tunnels = 1 + 4 * 2;
        assert_eq!(
            exit_totals(&records, 2),
            (
                tunnels * ROUND_ECHO + forwarded,
                tunnels * ROUND_ECHO + received,
                tunnels + 4,
                0
            ),
            "{records:?}"
        );
        assert_eq!(sink.totals(1).2, 2 + 12, "nothing booked elsewhere");
        watch.assert_none();
    })
    .await;
}

#[tokio::test]
async fn a_dead_exit_that_comes_back_is_let_in_by_the_half_open_probe() {
    bounded(40, async {
        let watch = PanicWatch::start();
        let cooldown = Duration::from_secs(5);
        let mut pool = Pool::start(|_| fault_config(cooldown), false).await;
        let addr = pool.cut().await;
        for _ in 0..2 {
            pool.round().await;
        }
        assert_eq!(exit_stats(&pool.gw, 1).breaker, "open");

        let back = upstream_on(addr).await;
        // not yet past the cool-down: exit 1 stays out
        assert!(!pool.reaches_exit_1(2).await, "the breaker kept exit 1 out");
        pass(cooldown + Duration::from_millis(100)).await;
        assert!(
            pool.reaches_exit_1(4).await,
            "the half-open probe went through"
        );
        let exit1 = exit_stats(&pool.gw, 1);
        assert_eq!((exit1.breaker.as_str(), exit1.healthy), ("closed", true));
        assert!(
            back.requests_served() >= 1,
            "traffic reached the exit again"
        );
        pool.stop().await;
        back.stop().await;
        watch.assert_none();
    })
    .await;
}

#[tokio::test]
async fn a_black_holed_exit_is_failed_over_within_the_connect_timeout_and_its_breaker_opens() {
    bounded(40, async {
        let watch = PanicWatch::start();
        let every = Duration::from_millis(300);
        let pool = Pool::start(
            |echo| probing(fault_config(Duration::from_secs(60)), every, echo),
            true,
        )
        .await;
        let (mut times, mut received) = (Vec::new(), 0);
        for _ in 0..2 {
            let (t, named, got) = pool.round().await;
            times.extend(t);
            assert!(named.iter().all(|e| e == "2"), "{named:?}");
            received += got;
        }
        // the first request was offered the black hole first and gave up on it in time
        assert!(pool.front.as_ref().is_some_and(|f| f.accepted() > 0));
        assert!(
            times[0] >= CONNECT_TIMEOUT / 3,
            "the first request waited on the black hole: {times:?}"
        );
        let worst = times.iter().max().copied().unwrap_or_default();
        assert!(
            worst < CONNECT_TIMEOUT + MARGIN,
            "the slowest answer took {worst:?}"
        );
        // the handshake the exit never answers fails its health probes
        eventually(10, || breaker(&pool.gw, 1) == "open").await;
        let hole = exit_stats(&pool.gw, 1);
        assert!(!hole.healthy);
        let why = hole.last_error.unwrap_or_default();
        assert!(why.contains("answer to the handshake"), "{why}");
        let (_, named, got) = pool.round().await;
        assert_eq!(named, ["2"]);
        received += got;

        let forwarded = bytes_in(&pool.origin);
        let sink = pool.stop().await;
        let records = sink.records();
        assert_eq!(exit_totals(&records, 1), (0, 0, 0, 0), "{records:?}");
        assert_eq!(
            exit_totals(&records, 2),
            (6 * ROUND_ECHO + forwarded, 6 * ROUND_ECHO + received, 9, 0),
            "no request failed: {records:?}"
        );
        watch.assert_none();
    })
    .await;
}

#[tokio::test]
async fn a_black_holed_exit_that_answers_again_is_closed_by_the_health_probe() {
    bounded(40, async {
        let watch = PanicWatch::start();
        let every = Duration::from_millis(300);
        let mut pool = Pool::start(
            |echo| probing(fault_config(Duration::from_secs(60)), every, echo),
            true,
        )
        .await;
        eventually(10, || breaker(&pool.gw, 1) == "open").await;
        assert!(
            !pool.reaches_exit_1(2).await,
            "the breaker keeps exit 1 out"
        );

        let addr = pool.cut().await;
        let back = upstream_on(addr).await;
        // well within the minute of cool-down: only a probe that went through can close it
        eventually(10, || breaker(&pool.gw, 1) == "closed").await;
        assert!(exit_stats(&pool.gw, 1).healthy);
        assert!(pool.reaches_exit_1(4).await, "traffic reaches exit 1 again");
        pool.stop().await;
        back.stop().await;
        watch.assert_none();
    })
    .await;
}

/// `config` with active health probes every `every`, through the exits to the echo server.
fn probing(config: GatewayConfig, every: Duration, echo: &Echo) -> GatewayConfig {
    GatewayConfig {
        health_interval: Some(every),
        health_probe_target: proxy::Destination::from_host("127.0.0.1", echo.addr.port())
            .expect("probe target"),
        ..config
    }
}
