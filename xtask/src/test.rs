//! `cargo xtask test`: every check, in the order that fails fastest. CI runs exactly this.

use std::time::Instant;

use crate::cmd::{cargo, command, output, run, step};
use crate::{e2e, fuzz, monitoring, paths, python, redis, site, tools};

/// The PostgreSQL the database tests use unless `ATLANTIC_TEST_POSTGRES_URL` says otherwise.
const DEFAULT_TEST_POSTGRES: &str = "postgres://root@127.0.0.1:5432/test";

/// Runs fmt, clippy (server and browser builds), the tests on SQLite, PostgreSQL and Redis,
/// the fuzz targets briefly, the release build, and the Playwright suite against it.
pub fn all() -> Result<(), String> {
    let started = Instant::now();
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let root = paths::workspace();
    tools::ensure_build_tools(false)?;
    // Checked (and installed) first, so a machine without a browser fails in seconds.
    let chromium = tools::ensure_chromium();
    if let (Err(e), true) = (&chromium, ci) {
        return Err(format!("{e} (CI=true)"));
    }

    step("formatting (cargo fmt --check)");
    run(cargo(&root).args(["fmt", "--all", "--", "--check"]))?;

    step("lints, server build (cargo clippy, app with `ssr`)");
    run(cargo(&root).args(["clippy", "--all-targets", "--", "-D", "warnings"]))?;

    step("lints, browser build (cargo clippy, app with `hydrate`, wasm32)");
    run(cargo(&root).args([
        "clippy",
        "--package",
        "frontend",
        "--target",
        "wasm32-unknown-unknown",
        "--",
        "-D",
        "warnings",
    ]))?;

    let pg_url = std::env::var("ATLANTIC_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_TEST_POSTGRES.to_string());
    step(&format!(
        "checking PostgreSQL for the database tests ({pg_url})"
    ));
    let reachable = output(command("psql").args([&pg_url, "-tAc", "select 1"]))
        .is_some_and(|o| o.trim() == "1");
    match (reachable, ci) {
        (true, _) => println!("    PostgreSQL answers: every database test runs on it too"),
        (false, true) => return Err(format!("PostgreSQL is not reachable at {pg_url} (CI=true)")),
        (false, false) => {
            println!("    WARNING: PostgreSQL unreachable; its tests will be skipped")
        }
    }

    let redis = match redis::ensure() {
        Ok(redis) => Some(redis),
        Err(e) if ci => return Err(format!("{e} (CI=true)")),
        Err(e) => {
            println!("    WARNING: {e}; the cluster tests will be skipped");
            None
        }
    };

    // the monitoring tests check ops/ with these and against a real Prometheus
    match monitoring::ensure() {
        Ok(()) => {}
        Err(e) if ci => return Err(format!("{e} (CI=true)")),
        Err(e) => println!("    WARNING: {e}; the monitoring checks will be skipped"),
    }

    // the API tests run schemathesis and the Python example of docs/api.md with these
    let venv = match python::ensure() {
        Ok(venv) => Some(venv),
        Err(e) if ci => return Err(format!("{e} (CI=true)")),
        Err(e) => {
            println!("    WARNING: {e}; schemathesis and the Python example will be skipped");
            None
        }
    };

    step("unit and integration tests (SQLite, PostgreSQL, Redis, Prometheus, schemathesis)");
    let mut tests = cargo(&root);
    tests
        .args(["test", "--all-targets"])
        .env("ATLANTIC_TEST_POSTGRES_URL", &pg_url);
    if let Some(venv) = &venv {
        tests.env("ATLANTIC_TEST_PYTHON_VENV", venv);
    }
    if let Some(redis) = &redis {
        tests.env("ATLANTIC_TEST_REDIS_URL", &redis.url);
    }
    run(&mut tests)?;
    drop(redis);

    fuzz::run_all(fuzz::TEST_SECS)?;

    // Playwright runs against the release build: the wasm-opt'd bundle is what ships.
    step("release build (wasm-opt, server with LTO)");
    tools::ensure_build_tools(true)?;
    let binary = site::build_all(true)?;

    step("end-to-end tests (Playwright, Debian Chromium, the real release build)");
    match chromium {
        Ok(chromium) => e2e::run_suite(&binary, &chromium)?,
        Err(e) => println!("    WARNING: {e}; skipping the Playwright suite"),
    }

    println!(
        "\nall checks passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
