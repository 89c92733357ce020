//! dashload: loopback-only load client for the dashboard: signed-in users who browse at a
//! person's pace, each holding the Statistics page's `/ws/live` socket open.
//!
//!   dashload --base http://127.0.0.1:18391 --steps 1000[,1500,2000..] [--step-secs 60]
//!            [--settle 10] [--accounts 1000] [--password P] [--think-min 5] [--think-max 10]
//!            [--signin-concurrency 2] [--p99-budget-ms 100] [--threads 1] [--source-net 127.1]
//!            [--first-secs S] [--window-hook 'shell command']
//!
//! Each user signs in as the browser does (GET /login, then the form's POST /login with the
//! page's Origin, then the 303 to /), opens /ws/live with its session cookie and Origin, and
//! then every think-min..think-max seconds (uniformly at random) loads one of: the six pages,
//! the usage CSV export, or posts the Settings preferences form (and follows its 303). User i
//! is account load{i % accounts}@example.com and connects from its own loopback address
//! (source-net.x.y), so the per-source limits see one person per address.
//!
//! Users are added step by step; after a step's users have signed in and `settle` seconds
//! passed, `step-secs` are measured and one JSON line is printed. With several steps the ramp
//! stops after the first step whose page p99 is over budget or that had an error. The first
//! step may be measured longer (`first-secs`). `window-hook` is started (not waited for) as
//! each window opens, with STEP, USERS and SECS in its environment (to profile the server).

mod report;
mod user;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use report::Rec;
use user::Cfg;

fn die(msg: &str) -> ! {
    eprintln!("dashload: {msg}");
    std::process::exit(2)
}

fn parse_args() -> HashMap<String, String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.is_empty() || argv[0] == "--help" || argv[0] == "-h" {
        let doc: Vec<&str> = include_str!("main.rs")
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .collect();
        eprintln!(
            "{}",
            doc.iter()
                .map(|l| l.trim_start_matches("//!").trim_start_matches(' '))
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::process::exit(2);
    }
    let mut kv = HashMap::new();
    let mut it = argv.into_iter();
    while let Some(k) = it.next() {
        let key = k
            .strip_prefix("--")
            .unwrap_or_else(|| die(&format!("unexpected argument {k}")))
            .to_string();
        let v = it
            .next()
            .unwrap_or_else(|| die(&format!("--{key} needs a value")));
        kv.insert(key, v);
    }
    kv
}

fn num<T: std::str::FromStr>(kv: &HashMap<String, String>, k: &str, d: T) -> T {
    match kv.get(k) {
        None => d,
        Some(s) => s
            .parse()
            .unwrap_or_else(|_| die(&format!("bad value for --{k}: {s}"))),
    }
}

/// The loopback address of user `i`: source-net.(i / 250).(i % 250 + 1).
fn source_ip(net: [u8; 2], i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        net[0],
        net[1],
        (i / 250) as u8,
        (i % 250 + 1) as u8,
    ))
}

fn main() {
    let kv = parse_args();
    let base = kv
        .get("base")
        .cloned()
        .unwrap_or_else(|| die("--base http://127.0.0.1:PORT required"));
    let host = base
        .strip_prefix("http://")
        .unwrap_or_else(|| die("--base must be http://"));
    let host_ip: Ipv4Addr = host
        .split(':')
        .next()
        .and_then(|h| h.parse().ok())
        .unwrap_or_else(|| die("--base host must be a literal IPv4 address"));
    if !host_ip.is_loopback() {
        die("refusing a non-loopback --base: this client only talks to 127.0.0.0/8");
    }
    let steps: Vec<usize> = kv
        .get("steps")
        .map_or("1000", String::as_str)
        .split(',')
        .map(|s| s.trim().parse().unwrap_or_else(|_| die("bad --steps")))
        .collect();
    let net: Vec<u8> = kv
        .get("source-net")
        .map_or("127.1", String::as_str)
        .split('.')
        .filter_map(|x| x.parse().ok())
        .collect();
    if net.len() != 2 || net[0] != 127 {
        die("--source-net is 127.N");
    }
    let max_users = *steps.iter().max().unwrap_or(&0);
    if max_users > 250 * 256 {
        die("at most 64,000 users (one loopback address each)");
    }
    let cfg = Arc::new(Cfg {
        base: base.trim_end_matches('/').to_string(),
        accounts: num(&kv, "accounts", 1000usize).max(1),
        password: kv
            .get("password")
            .cloned()
            .unwrap_or_else(|| "load-test-password-42".into()),
        think_min: num(&kv, "think-min", 5.0f64),
        think_max: num(&kv, "think-max", 10.0f64),
    });
    let step_secs = Duration::from_secs_f64(num(&kv, "step-secs", 60.0f64).clamp(1.0, 3600.0));
    let first_secs = kv
        .get("first-secs")
        .map(|_| Duration::from_secs_f64(num(&kv, "first-secs", 60.0f64).clamp(1.0, 3600.0)));
    let hook = kv.get("window-hook").cloned();
    let settle = Duration::from_secs_f64(num(&kv, "settle", 10.0f64).clamp(0.0, 600.0));
    let budget_ms: f64 = num(&kv, "p99-budget-ms", 100.0);
    let threads: usize = num(&kv, "threads", 1usize).max(1);
    let signin_conc: usize = num(&kv, "signin-concurrency", 2usize).max(1);
    let net = [net[0], net[1]];

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap_or_else(|e| die(&e.to_string()));
    rt.block_on(async move {
        let rec = Arc::new(Rec::default());
        let signin_gate = Arc::new(tokio::sync::Semaphore::new(signin_conc));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut handles = Vec::new();
        let mut started = 0usize;
        for (n, &target) in steps.iter().enumerate() {
            let t0 = Instant::now();
            let signin_before = rec.signin_snapshot();
            for i in started..target {
                let frames = rec.new_socket();
                handles.push(tokio::spawn(user::run(i, source_ip(net, i), cfg.clone(), rec.clone(), frames, signin_gate.clone(), stop_rx.clone())));
            }
            started = started.max(target);
            // Wait for every user of the step to be signed in (or to have given up).
            let deadline = t0 + Duration::from_secs(900);
            while rec.signins_done.load(Ordering::Relaxed) < started && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let signin_secs = t0.elapsed().as_secs_f64();
            tokio::time::sleep(settle).await;
            let secs = if n == 0 { first_secs.unwrap_or(step_secs) } else { step_secs };
            if let Some(hook) = &hook {
                let spawned = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(hook)
                    .env("STEP", n.to_string())
                    .env("USERS", started.to_string())
                    .env("SECS", secs.as_secs().to_string())
                    .spawn();
                if let Err(e) = spawned {
                    eprintln!("dashload: window hook: {e}");
                }
            }
            let load_before = report::loadavg();
            let from = Instant::now();
            tokio::time::sleep(secs).await;
            let to = Instant::now();
            let mut line = rec.window(from, to);
            let o = line.as_object_mut().unwrap_or_else(|| die("report"));
            o.insert("step".into(), n.into());
            o.insert("users".into(), started.into());
            o.insert("signin_secs".into(), ((signin_secs * 10.0).round() / 10.0).into());
            o.insert("signin".into(), rec.signin_since(&signin_before));
            o.insert("loadavg_before".into(), load_before.into());
            o.insert("loadavg_after".into(), report::loadavg().into());
            let p99 = o.get("pages").and_then(|p| p.get("p99_ms")).and_then(serde_json::Value::as_f64).unwrap_or(f64::MAX);
            let errors = o.get("errors_total").and_then(serde_json::Value::as_u64).unwrap_or(0);
            let broke = p99 > budget_ms || errors > 0;
            o.insert("within_goal".into(), (!broke).into());
            println!("{line}");
            if broke && steps.len() > 1 {
                eprintln!("dashload: step {n} ({started} users) broke the goal (p99 {p99} ms, {errors} errors): ramp ends");
                break;
            }
        }
        let _ = stop_tx.send(true);
        let quit = tokio::time::timeout(Duration::from_secs(20), async {
            for h in handles {
                let _ = h.await;
            }
        });
        if quit.await.is_err() {
            eprintln!("dashload: some users did not stop within 20 s");
        }
        eprintln!("dashload: whole run: {}", rec.totals());
    });
    rt.shutdown_timeout(Duration::from_secs(1));
}
