//! The fuzz targets of `proxy/fuzz/` (cargo-fuzz, libFuzzer): each runs for a short while from
//! the committed seeds plus the corpus kept under the cargo target dir (so CI's cache makes
//! every run start where the last one stopped). A crash fails the run; libFuzzer leaves the
//! input in `proxy/fuzz/artifacts/<target>/` and prints how to replay it.

use crate::cmd::{cargo, run, step};
use crate::{paths, tools};

/// The targets, and the dictionary each one uses (relative to `proxy/fuzz/`).
const TARGETS: [(&str, Option<&str>); 4] = [
    ("http_head", Some("http.dict")),
    ("socks5_handshake", None),
    ("username", None),
    ("destination", None),
];

/// Seconds per target in `cargo xtask test`.
pub const TEST_SECS: u64 = 20;

/// Builds the fuzz targets (instrumented, release) and runs each for `secs` seconds.
pub fn run_all(secs: u64) -> Result<(), String> {
    tools::ensure_cargo_fuzz()?;
    let dir = paths::workspace().join("proxy/fuzz");
    let target_dir = paths::target_dir().join("fuzz");
    for (target, dict) in TARGETS {
        step(&format!("fuzzing {target} for {secs} s (cargo fuzz)"));
        let corpus = target_dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus)
            .map_err(|e| format!("cannot create {}: {e}", corpus.display()))?;
        let mut fuzz = cargo(&dir);
        fuzz.args(["fuzz", "run", "--target-dir"])
            .arg(&target_dir)
            .arg(target)
            .arg(&corpus)
            .arg(dir.join("seeds").join(target))
            .arg("--")
            .arg(format!("-max_total_time={secs}"))
            // an input that takes this long is a hang, reported like a crash
            .arg("-timeout=10")
            // cargo-fuzz passes nightly flags (-Zsanitizer=address, …) to the stable toolchain
            .env("RUSTC_BOOTSTRAP", "1")
            .env_remove("CARGO_TARGET_DIR");
        if let Some(dict) = dict {
            fuzz.arg(format!("-dict={}", dir.join(dict).display()));
        }
        run(&mut fuzz)?;
    }
    Ok(())
}
