//! Failover latency: what a dead upstream exit adds to the requests that try it first.
//!
//!     cargo run --release -p proxy --example bench_failover -- \
//!         [--requests 2000] [--blackhole-requests 10] [--no-blackhole]
//!
//! Everything stays on 127.0.0.1, on ports the OS picks, and the run stops by itself:
//!
//! - an origin answering every `GET` with 1 KiB;
//! - the healthy exit: a gateway in direct mode, reached as an HTTP upstream;
//! - a refusing exit: a port bound, then closed (connections are refused at once);
//! - a blackholed exit: a listener with a backlog of 0 whose queue is kept full, so the kernel
//!   drops new SYNs and connection attempts hang until the gateway's budget runs out.
//!
//! Each gateway under test uses round robin over its exits (all tagged `de`), no health probing,
//! and (unless said otherwise) a breaker that never opens, so a dead exit is tried first by
//! every other request for the whole run. Requests are sequential `GET`s through the HTTP proxy
//! port, each on a new client connection (`Connection: close`), timed from connect to the last
//! body byte; one uncounted request warms each gateway first. Scenarios:
//!
//! - `baseline`: the healthy exit alone;
//! - `refused`: refusing exit + healthy exit, measured in turns with the baseline (one request
//!   each, the order alternating) so that both see the same machine;
//! - `blackholed`: blackholed exit + healthy exit (fewer requests: each attempt on the black
//!   hole waits out its share of `connect_timeout`, half of the default 10 s);
//! - `blackholed, default breaker`: the same with the production breaker (3 failures open it
//!   for 10 s, then one probe).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use proxy::{
    AccountEntry, BoxError, Directory, DirectorySnapshot, ExitEntry, ExitKind, Gateway,
    GatewayConfig, GatewayHandle, PlanLimits, Strategy, UsageBatch, UsageSink,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Size of the origin's answer body.
const BODY: usize = 1024;
/// Deadline of one request, end to end; a request past it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Ids of the exits in the directories.
const HEALTHY: i64 = 1;
const DEAD: i64 = 2;

struct Static(DirectorySnapshot);

impl Directory for Static {
    async fn snapshot(&self) -> Result<DirectorySnapshot, BoxError> {
        Ok(self.0.clone())
    }
}

struct Discard;

impl UsageSink for Discard {
    async fn flush(&self, _batch: UsageBatch) -> Result<(), BoxError> {
        Ok(())
    }
}

fn arg(name: &str, default: usize) -> Result<usize, String> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} takes a whole number")),
    }
}

fn account(username: &str, password: &str) -> AccountEntry {
    AccountEntry {
        account_id: 1,
        username: username.into(),
        password: password.into(),
        allowlist: vec![],
        plan: Some(PlanLimits {
            requests_per_second: 1_000_000,
            max_connections: 100_000,
            bandwidth_bytes: None,
            bytes_used: 0,
            period_start_ms: 0,
        }),
    }
}

fn exit(id: i64, addr: SocketAddr) -> Result<ExitEntry, url::ParseError> {
    Ok(ExitEntry {
        id,
        url: url::Url::parse(&format!("http://up:uppw@{addr}"))?,
        kind: ExitKind::Http,
        country: Some("de".into()),
        city: None,
        pool: "default".into(),
        enabled: true,
        weight: 1,
        forward_names: false,
    })
}

/// A gateway running on loopback until [`Running::stop`].
struct Running {
    http: SocketAddr,
    handle: GatewayHandle,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Running {
    async fn start(config: GatewayConfig, snapshot: DirectorySnapshot) -> std::io::Result<Self> {
        let http = TcpListener::bind("127.0.0.1:0").await?;
        let socks = TcpListener::bind("127.0.0.1:0").await?;
        let gateway = Gateway::from_listeners(config, http, socks, Static(snapshot), Discard);
        let shutdown = CancellationToken::new();
        let (http, handle) = (gateway.http_addr(), gateway.handle());
        let task = tokio::spawn(gateway.run(shutdown.clone()));
        Ok(Running {
            http,
            handle,
            shutdown,
            task,
        })
    }

    async fn stop(self) {
        self.shutdown.cancel();
        if tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .is_err()
        {
            eprintln!("a gateway did not stop within 15 s");
        }
    }

    /// (failures, successes) of exit `id` so far.
    fn exit_counts(&self, id: i64) -> (u64, u64) {
        self.handle
            .stats()
            .snapshot()
            .exits
            .iter()
            .find(|e| e.id == id)
            .map_or((0, 0), |e| (e.failures, e.successes))
    }
}

/// What every gateway here shares: loopback destinations allowed, no health probing.
fn base_config() -> GatewayConfig {
    GatewayConfig {
        allow_private_destinations: true,
        health_interval: None,
        drain_timeout: Duration::from_secs(2),
        ..GatewayConfig::default()
    }
}

/// The gateway under test: round robin over `exits`; `breaker_failures: None` keeps the
/// breaker from ever opening.
async fn front(exits: Vec<ExitEntry>, breaker_failures: Option<u32>) -> std::io::Result<Running> {
    let config = GatewayConfig {
        strategy: Strategy::RoundRobin,
        breaker_failures: breaker_failures.unwrap_or(u32::MAX),
        ..base_config()
    };
    let snapshot = DirectorySnapshot {
        accounts: vec![account("bench", "benchpw")],
        exits,
    };
    Running::start(config, snapshot).await
}

/// A loopback origin: every request head gets `200` with [`BODY`] bytes; keep-alive honoured.
async fn origin() -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_origin(stream));
        }
    });
    Ok((addr, task))
}

async fn serve_origin(mut s: TcpStream) {
    let mut answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {BODY}\r\n\r\n").into_bytes();
    answer.extend(std::iter::repeat_n(b'x', BODY));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            if s.write_all(&answer).await.is_err() {
                return;
            }
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A loopback port that refuses connections: bound, then closed.
async fn refusing_port() -> std::io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0").await?.local_addr()
}

/// A loopback address whose connection attempts hang: a listener with a backlog of 0 that
/// never accepts, its queue filled by our own connections, so the kernel drops further SYNs.
/// Keep the returned value alive for as long as the black hole is needed. `None` when the
/// queue does not fill (then this kernel cannot blackhole on loopback this way).
async fn blackhole() -> std::io::Result<Option<(SocketAddr, TcpListener, Vec<TcpStream>)>> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let listener = socket.listen(0)?;
    let addr = listener.local_addr()?;
    let mut fillers = Vec::new();
    for _ in 0..16 {
        match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await {
            Ok(Ok(s)) => fillers.push(s),
            Ok(Err(_)) => return Ok(None),
            Err(_) => return Ok(Some((addr, listener, fillers))),
        }
    }
    Ok(None)
}

/// Where the measured requests go, and the credentials they carry.
struct Target {
    origin: SocketAddr,
    /// The `Proxy-Authorization` value.
    auth: String,
}

/// One `GET` through the proxy at `proxy` on a new connection; its latency, or why it failed.
async fn get(proxy: SocketAddr, target: &Target) -> Result<Duration, String> {
    let started = Instant::now();
    let exchange = async {
        let mut s = TcpStream::connect(proxy).await.map_err(|e| e.to_string())?;
        s.set_nodelay(true).ok();
        let (origin, auth) = (target.origin, &target.auth);
        let request = format!(
            "GET http://{origin}/ HTTP/1.1\r\nHost: {origin}\r\nProxy-Authorization: {auth}\r\n\
             Connection: close\r\n\r\n"
        );
        s.write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        read_answer(&mut s).await
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
        Ok(Ok(())) => Ok(started.elapsed()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(format!("no answer within {REQUEST_TIMEOUT:?}")),
    }
}

/// Reads one response; `Ok` only for a `200` with the whole [`BODY`].
async fn read_answer(s: &mut TcpStream) -> Result<(), String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!("closed after {} bytes", buf.len()));
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut res = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head) = res.parse(&buf).map_err(|e| e.to_string())? {
            if res.code != Some(200) {
                let status = res.code.unwrap_or(0);
                let code = res
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("x-atlantic-error"))
                    .map(|h| String::from_utf8_lossy(h.value).into_owned());
                return Err(format!("status {status} ({})", code.unwrap_or_default()));
            }
            if buf.len() - head >= BODY {
                return Ok(());
            }
        }
    }
}

/// Latencies of one scenario and its failures.
struct Run {
    name: &'static str,
    latencies: Vec<Duration>,
    failures: Vec<String>,
    /// (failed attempts, successful attempts) on the dead exit, if there is one.
    dead_exit: Option<(u64, u64)>,
}

impl Run {
    /// The `p`-th percentile (nearest rank), or zero without samples.
    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted
            .get(rank.saturating_sub(1))
            .copied()
            .unwrap_or_default()
    }

    fn print(&self) {
        let ms = |d: Duration| format!("{:.3}", d.as_secs_f64() * 1000.0);
        let dead = self
            .dead_exit
            .map(|(failed, ok)| format!("{failed} failed / {ok} ok"))
            .unwrap_or_else(|| "-".to_owned());
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            self.name,
            self.latencies.len() + self.failures.len(),
            self.failures.len(),
            ms(self.percentile(50.0)),
            ms(self.percentile(90.0)),
            ms(self.percentile(99.0)),
            ms(self.percentile(100.0)),
            dead,
        );
    }
}

/// A gateway under test and what has been measured through it.
struct Subject {
    gw: Running,
    run: Run,
    /// The dead exit's (failures, successes) before the measured requests, if it has one.
    dead_before: Option<(u64, u64)>,
}

impl Subject {
    /// Starts a gateway with `exits` and sends it one uncounted request, so its directory is
    /// loaded and every path is warm.
    async fn start(
        name: &'static str,
        exits: Vec<ExitEntry>,
        breaker_failures: Option<u32>,
        target: &Target,
    ) -> Result<Subject, Box<dyn std::error::Error>> {
        let has_dead = exits.iter().any(|e| e.id == DEAD);
        let gw = front(exits, breaker_failures).await?;
        if let Err(e) = get(gw.http, target).await {
            return Err(format!("{name}: the warm-up request failed: {e}").into());
        }
        let dead_before = has_dead.then(|| gw.exit_counts(DEAD));
        let run = Run {
            name,
            latencies: Vec::new(),
            failures: Vec::new(),
            dead_exit: None,
        };
        Ok(Subject {
            gw,
            run,
            dead_before,
        })
    }

    async fn request(&mut self, target: &Target) {
        match get(self.gw.http, target).await {
            Ok(d) => self.run.latencies.push(d),
            Err(e) => self.run.failures.push(e),
        }
    }

    /// Stops the gateway; returns its run, with the attempts on the dead exit during it.
    async fn finish(self) -> Run {
        let mut run = self.run;
        run.dead_exit = self.dead_before.map(|(failed_before, ok_before)| {
            let (failed, ok) = self.gw.exit_counts(DEAD);
            (failed - failed_before, ok - ok_before)
        });
        self.gw.stop().await;
        run
    }
}

/// `n` rounds of one request to each subject, one request at a time; the order rotates each
/// round so that no subject is favoured by what else the machine is doing.
async fn measure(subjects: &mut [Subject], target: &Target, n: usize) {
    let len = subjects.len();
    for round in 0..n {
        for k in 0..len {
            subjects[(round + k) % len].request(target).await;
        }
    }
}

/// Measures `subjects` together for `n` rounds, then stops them.
async fn measure_all(mut subjects: Vec<Subject>, target: &Target, n: usize) -> Vec<Run> {
    measure(&mut subjects, target, n).await;
    let mut runs = Vec::new();
    for subject in subjects {
        runs.push(subject.finish().await);
    }
    runs
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = arg("--requests", 2000)?;
    let n_blackhole = arg("--blackhole-requests", 10)?;
    let with_blackhole = !std::env::args().any(|a| a == "--no-blackhole");

    let (origin, origin_task) = origin().await?;
    let upstream = Running::start(
        base_config(),
        DirectorySnapshot {
            accounts: vec![account("up", "uppw")],
            exits: vec![],
        },
    )
    .await?;
    let healthy = exit(HEALTHY, upstream.http)?;
    let refused = exit(DEAD, refusing_port().await?)?;

    let target = Target {
        origin,
        auth: format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("bench:benchpw")
        ),
    };

    let baseline = "baseline: healthy exit only";
    let with_refused = "refusing exit + healthy exit";
    let subjects = vec![
        Subject::start(baseline, vec![healthy.clone()], None, &target).await?,
        Subject::start(with_refused, vec![refused, healthy.clone()], None, &target).await?,
    ];
    let mut runs = measure_all(subjects, &target, n).await;

    let hole = if with_blackhole {
        blackhole().await?
    } else {
        None
    };
    match &hole {
        Some((addr, _, _)) => {
            let dead = exit(DEAD, *addr)?;
            let name = "blackholed exit + healthy exit";
            let exits = vec![dead.clone(), healthy.clone()];
            let subject = Subject::start(name, exits, None, &target).await?;
            runs.extend(measure_all(vec![subject], &target, n_blackhole).await);
            let name = "blackholed exit + healthy exit, default breaker";
            let breaker = Some(GatewayConfig::default().breaker_failures);
            let subject = Subject::start(name, vec![dead, healthy], breaker, &target).await?;
            runs.extend(measure_all(vec![subject], &target, n).await);
        }
        None if with_blackhole => {
            println!("(blackhole variant skipped: the loopback accept queue did not fill)");
        }
        None => {}
    }
    drop(hole);
    upstream.stop().await;
    origin_task.abort();

    report(&runs);
    let failed: usize = runs.iter().map(|r| r.failures.len()).sum();
    if failed > 0 {
        return Err(format!("{failed} requests failed").into());
    }
    Ok(())
}

fn report(runs: &[Run]) {
    println!(
        "| scenario | requests | failed | p50 ms | p90 ms | p99 ms | max ms | dead exit attempts |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for run in runs {
        run.print();
    }
    if let [baseline, refused, ..] = runs {
        let added = |p: f64| {
            let d = refused.percentile(p).as_secs_f64() - baseline.percentile(p).as_secs_f64();
            d * 1000.0
        };
        println!(
            "added by a refusing exit: p50 {:+.3} ms, p90 {:+.3} ms, p99 {:+.3} ms",
            added(50.0),
            added(90.0),
            added(99.0)
        );
    }
    for run in runs {
        for (i, e) in run.failures.iter().take(5).enumerate() {
            println!("{}: failure {}: {e}", run.name, i + 1);
        }
    }
}
