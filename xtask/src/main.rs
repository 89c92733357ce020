//! `cargo xtask`: the project's own build tool. It installs what the build needs, builds the
//! dashboard's wasm and the server, runs the service, and runs every test the way CI does.
//!
//! It drives cargo and wasm-bindgen directly instead of cargo-leptos: the same steps, without a
//! ten-minute tool install on every fresh machine, and with content-hashed asset names.

mod cmd;
mod e2e;
mod fuzz;
mod monitoring;
mod paths;
mod python;
mod redis;
mod site;
mod test;
mod tools;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  run [--release] [-- ARGS]   build everything and run `atlantic serve` (SQLite, Paystack test double,
                              demo data); ARGS go to `atlantic`
  test                        every check CI runs: fmt, clippy, unit and integration tests on SQLite
                              and PostgreSQL, fuzz targets (20 s each), Playwright in Chromium, release build
  build [--release]           build the site (wasm, CSS, assets) and the `atlantic` binary
  e2e [--release]             build, start the service on free ports, run the Playwright suite
  fuzz [SECONDS]              run each fuzz target of proxy/fuzz/ (default 60 s each; installs cargo-fuzz)
  setup                       install the tools the build needs (wasm target, wasm-bindgen, npm packages)

environment:
  CARGO_TARGET_DIR            where builds go (CI puts it under ~/.cache so runs are incremental)
  ATLANTIC_TOOLS_DIR          where wasm-bindgen and wasm-opt are installed (default ~/.cache/atlantic/tools)
  ATLANTIC_TEST_POSTGRES_URL  PostgreSQL admin URL for tests (default postgres://root@127.0.0.1:5432/test)
  ATLANTIC_TEST_REDIS_URL     Redis for the cluster tests (default redis://127.0.0.1:6379; when it does
                              not answer, a redis-server is started on a free port for the run)
  ATLANTIC_TEST_PYTHON_VENV   the venv with schemathesis and requests for the API tests (default: the one
                              `test` makes in the tools directory)
  CI=true                     a missing PostgreSQL, Redis, Chromium or schemathesis fails instead of being
                              skipped";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match args.split_first() {
        Some((c, rest)) => (c.as_str(), rest),
        None => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let release = rest.iter().any(|a| a == "--release");
    let passthrough: Vec<String> = rest
        .iter()
        .skip_while(|a| a.as_str() != "--")
        .skip(1)
        .cloned()
        .collect();
    let result = match command {
        "run" => site::serve(release, &passthrough),
        "build" => site::build_all(release).map(|_| ()),
        "test" | "ci" => test::all(),
        "e2e" => e2e::build_and_run(release),
        "fuzz" => match rest.first().map(|s| s.parse::<u64>()) {
            None => fuzz::run_all(60),
            Some(Ok(secs)) if secs > 0 => fuzz::run_all(secs),
            Some(_) => Err(format!("`fuzz` takes a number of seconds\n\n{USAGE}")),
        },
        "setup" => tools::ensure_build_tools(release).and_then(|_| tools::ensure_npm_packages()),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
