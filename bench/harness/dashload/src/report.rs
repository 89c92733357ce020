//! What the users saw, recorded with the moment it happened, and each step's window of it
//! summed up: latency percentiles by kind and page, errors by tag, and the live sockets' frames.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Frame arrival times of one user's live socket (across reconnections).
pub type Frames = Arc<Mutex<Vec<Instant>>>;

struct Sample {
    kind: &'static str,
    path: &'static str,
    at: Instant,
    micros: u32,
}

#[derive(Default)]
pub struct Rec {
    samples: Mutex<Vec<Sample>>,
    errors: Mutex<Vec<(Instant, String)>>,
    sockets: Mutex<Vec<Frames>>,
    signin_micros: Mutex<Vec<u32>>,
    /// Sign-ins answered 503 (all password checks busy) and tried again after Retry-After.
    pub signin_busy: AtomicUsize,
    /// Users signed in, or given up on.
    pub signins_done: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// 1-minute load average: the machine is shared, so every result records how busy it was.
pub fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn pct(sorted: &[u32], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0)
}

fn lat(mut v: Vec<u32>) -> Value {
    v.sort_unstable();
    let r = |x: Option<f64>| x.map(|f| (f * 100.0).round() / 100.0);
    json!({ "n": v.len(), "p50_ms": r(pct(&v, 50.0)), "p99_ms": r(pct(&v, 99.0)), "max_ms": r(pct(&v, 100.0)) })
}

impl Rec {
    pub fn ok(&self, kind: &'static str, path: &'static str, took: Duration) {
        let micros = took.as_micros().min(u128::from(u32::MAX)) as u32;
        lock(&self.samples).push(Sample {
            kind,
            path,
            at: Instant::now(),
            micros,
        });
    }

    pub fn error(&self, tag: String) {
        lock(&self.errors).push((Instant::now(), tag));
    }

    pub fn signed_in(&self, took: Duration) {
        lock(&self.signin_micros).push(took.as_micros().min(u128::from(u32::MAX)) as u32);
    }

    pub fn new_socket(&self) -> Frames {
        let f = Frames::default();
        lock(&self.sockets).push(f.clone());
        f
    }

    /// How many sign-ins were recorded so far (to sum up the next step's only).
    pub fn signin_snapshot(&self) -> (usize, usize) {
        (
            lock(&self.signin_micros).len(),
            self.signin_busy.load(Ordering::Relaxed),
        )
    }

    pub fn signin_since(&self, before: &(usize, usize)) -> Value {
        let v = lock(&self.signin_micros)[before.0..].to_vec();
        let mut o = lat(v);
        o["busy_503_retried"] = json!(self.signin_busy.load(Ordering::Relaxed) - before.1);
        o
    }

    /// Everything between `from` and `to`.
    pub fn window(&self, from: Instant, to: Instant) -> Value {
        let secs = (to - from).as_secs_f64();
        let inside = |t: Instant| t >= from && t < to;
        let samples = lock(&self.samples);
        let mut by_kind: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        let mut by_path: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        let mut pages = Vec::new();
        let mut all = 0usize;
        for s in samples.iter().filter(|s| inside(s.at)) {
            all += 1;
            by_kind.entry(s.kind).or_default().push(s.micros);
            by_path.entry(s.path).or_default().push(s.micros);
            if s.kind == "page" {
                pages.push(s.micros);
            }
        }
        drop(samples);
        let page_count = pages.len();
        let mut errors: BTreeMap<String, u64> = BTreeMap::new();
        for (_, tag) in lock(&self.errors).iter().filter(|(t, _)| inside(*t)) {
            *errors.entry(tag.clone()).or_insert(0) += 1;
        }
        let errors_total: u64 = errors.values().sum();
        let r1 = |x: f64| (x * 10.0).round() / 10.0;
        json!({
            "window_secs": r1(secs),
            "pages_per_s": r1(page_count as f64 / secs),
            "requests_per_s": r1(all as f64 / secs),
            "pages": lat(pages),
            "by_kind": by_kind.into_iter().map(|(k, v)| (k.to_string(), lat(v))).collect::<serde_json::Map<_, _>>(),
            "by_path": by_path.into_iter().map(|(k, v)| (k.to_string(), lat(v))).collect::<serde_json::Map<_, _>>(),
            "errors_total": errors_total,
            "errors": errors,
            "live": self.frames(from, to),
        })
    }

    /// Per socket: the share of the window's whole seconds in which a frame arrived, and the
    /// longest wait between two frames (the window's edges count as frames).
    fn frames(&self, from: Instant, to: Instant) -> Value {
        let whole = (to - from).as_secs() as usize;
        let sockets = lock(&self.sockets);
        let (mut covered, mut possible, mut full, mut worst_share) =
            (0usize, 0usize, 0usize, 1.0f64);
        let (mut max_gap, mut gaps_over_1_5s) = (Duration::ZERO, 0usize);
        let mut frames_total = 0usize;
        for f in sockets.iter() {
            let f = lock(f);
            let mut seen = vec![false; whole];
            let mut last = from;
            for &t in f.iter().filter(|&&t| t >= from && t < to) {
                frames_total += 1;
                let k = (t - from).as_secs() as usize;
                if k < whole {
                    seen[k] = true;
                }
                let gap = t - last;
                max_gap = max_gap.max(gap);
                if gap > Duration::from_millis(1500) {
                    gaps_over_1_5s += 1;
                }
                last = t;
            }
            max_gap = max_gap.max(to - last);
            let c = seen.iter().filter(|&&s| s).count();
            covered += c;
            possible += whole;
            if c == whole {
                full += 1;
            }
            if whole > 0 {
                worst_share = worst_share.min(c as f64 / whole as f64);
            }
        }
        json!({
            "sockets": sockets.len(),
            "frames": frames_total,
            "seconds_with_frame_share": if possible > 0 { (covered as f64 / possible as f64 * 1e5).round() / 1e5 } else { 0.0 },
            "sockets_with_a_frame_every_second": full,
            "worst_socket_share": (worst_share * 1e4).round() / 1e4,
            "max_gap_ms": max_gap.as_millis() as u64,
            "gaps_over_1500ms": gaps_over_1_5s,
        })
    }

    /// Counts over the whole run (outside the windows too: sign-ins, ramp-up, stop).
    pub fn totals(&self) -> Value {
        let mut errors: BTreeMap<String, u64> = BTreeMap::new();
        for (_, tag) in lock(&self.errors).iter() {
            *errors.entry(tag.clone()).or_insert(0) += 1;
        }
        json!({
            "requests": lock(&self.samples).len(),
            "signins": lock(&self.signin_micros).len(),
            "signin_busy_503_retried": self.signin_busy.load(Ordering::Relaxed),
            "errors": errors,
        })
    }
}
