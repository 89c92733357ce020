//! Installs what the build and the tests need, once, and is quick when it is already there:
//! the wasm32 target, wasm-bindgen at exactly the version in Cargo.lock, wasm-opt from npm
//! (Debian's binaryen 108 silently breaks hydration), the npm packages (the site's alone, or
//! all of them for the browser tests), and Chromium.

use std::path::{Path, PathBuf};

use crate::cmd::{self, command, output, run, step};
use crate::paths;

/// npm's binaryen version whose wasm-opt is known to produce wasm that hydrates.
const BINARYEN: &str = "binaryen@132.0.0";

/// Makes sure the wasm target, wasm-bindgen and (for release) wasm-opt are available, and puts
/// the tools directory first on PATH for the child processes of this xtask.
pub fn ensure_build_tools(release: bool) -> Result<(), String> {
    prepend_path(&paths::tools().join("bin"));
    prepend_path(&paths::tools().join("node_modules/.bin"));
    ensure_wasm_target()?;
    ensure_wasm_bindgen()?;
    if release {
        ensure_wasm_opt()?;
    }
    Ok(())
}

fn ensure_wasm_target() -> Result<(), String> {
    let installed =
        output(command("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        return Ok(());
    }
    step("installing the wasm32-unknown-unknown target (once)");
    run(command("rustup").args(["target", "add", "wasm32-unknown-unknown"]))
}

/// The wasm-bindgen version pinned in Cargo.lock; the CLI must match it exactly.
fn locked_wasm_bindgen() -> Result<String, String> {
    let lock = std::fs::read_to_string(paths::workspace().join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\""
            && let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = "))
        {
            return Ok(v.trim_matches('"').to_string());
        }
    }
    Err("Cargo.lock has no wasm-bindgen entry".into())
}

fn ensure_wasm_bindgen() -> Result<(), String> {
    let want = locked_wasm_bindgen()?;
    let have = output(command("wasm-bindgen").arg("--version")).unwrap_or_default();
    if have.split_whitespace().nth(1) == Some(want.as_str()) {
        return Ok(());
    }
    step(&format!(
        "installing wasm-bindgen-cli {want} into {} (once, about 2-5 minutes)",
        paths::tools().display()
    ));
    // Not `--locked`: its lock names a webpki-roots release this registry does not carry.
    run(command("cargo")
        .args(["install", "wasm-bindgen-cli", "--version", &want, "--root"])
        .arg(paths::tools())
        .env_remove("CARGO_TARGET_DIR"))
}

/// The cargo-fuzz release the fuzz step installs.
const CARGO_FUZZ: &str = "0.13.2";

/// Makes sure `cargo fuzz` (at [`CARGO_FUZZ`]) is on the children's PATH, installing it into the
/// tools directory when missing.
pub fn ensure_cargo_fuzz() -> Result<(), String> {
    prepend_path(&paths::tools().join("bin"));
    let have = output(command("cargo-fuzz").arg("--version")).unwrap_or_default();
    if have.split_whitespace().nth(1) == Some(CARGO_FUZZ) {
        return Ok(());
    }
    step(&format!(
        "installing cargo-fuzz {CARGO_FUZZ} into {} (once, about 2 minutes)",
        paths::tools().display()
    ));
    run(command("cargo")
        .args(["install", "cargo-fuzz", "--version", CARGO_FUZZ, "--root"])
        .arg(paths::tools())
        .env_remove("CARGO_TARGET_DIR"))
}

fn ensure_wasm_opt() -> Result<(), String> {
    let wasm_opt = paths::tools().join("node_modules/.bin/wasm-opt");
    if wasm_opt.exists() {
        return Ok(());
    }
    step(&format!("installing wasm-opt (npm {BINARYEN}) (once)"));
    std::fs::create_dir_all(paths::tools()).map_err(|e| e.to_string())?;
    run(command("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(paths::tools())
        .arg(BINARYEN))
}

/// Installs all of `end2end/`'s npm packages (Playwright and the test tools too) when the lock
/// file changed: what the browser tests need.
pub fn ensure_npm_packages() -> Result<(), String> {
    install_npm_packages(false)
}

/// Installs the npm packages the site build needs (ECharts and esbuild, `end2end/`'s
/// `dependencies`) when the lock file changed; a full install serves too. A release image
/// builds with this alone: no Playwright.
pub fn ensure_site_packages() -> Result<(), String> {
    install_npm_packages(true)
}

/// The stamps of what is installed in `end2end/node_modules`: a copy of the lock file it was
/// installed from (`npm ci` deletes `node_modules`, and the stamps with it).
const FULL_STAMP: &str = "node_modules/.atlantic-lock";
const SITE_STAMP: &str = "node_modules/.atlantic-lock-site";

fn install_npm_packages(site_only: bool) -> Result<(), String> {
    let dir = paths::workspace().join("end2end");
    let lock = std::fs::read(dir.join("package-lock.json")).unwrap_or_default();
    let stamped = |stamp: &str| {
        !lock.is_empty() && std::fs::read(dir.join(stamp)).ok().as_deref() == Some(lock.as_slice())
    };
    if stamped(FULL_STAMP) || (site_only && stamped(SITE_STAMP)) {
        return Ok(());
    }
    let verb = if lock.is_empty() { "install" } else { "ci" };
    let mut npm = command("npm");
    npm.args([verb, "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
    if site_only {
        step("installing the site's npm packages in end2end/ (ECharts, esbuild)");
        npm.arg("--omit=dev");
    } else {
        step("installing npm packages in end2end/ (Playwright, ECharts; no browser download)");
    }
    run(&mut npm)?;
    let lock = std::fs::read(dir.join("package-lock.json")).unwrap_or_default();
    let stamp = if site_only { SITE_STAMP } else { FULL_STAMP };
    std::fs::write(dir.join(stamp), lock).map_err(|e| e.to_string())
}

/// Debian's Chromium for Playwright. Installed with apt when running as root; otherwise the
/// caller decides whether its absence is fatal (it is under CI=true).
pub fn ensure_chromium() -> Result<PathBuf, String> {
    let path = PathBuf::from(
        std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into()),
    );
    if path.exists() {
        return Ok(path);
    }
    cmd::apt_install(&["chromium"])?;
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "Chromium not found at {} (install Debian's `chromium` package or set CHROMIUM_PATH)",
            path.display()
        ))
    }
}

fn prepend_path(dir: &Path) {
    let current = cmd::child_path();
    let mut parts: Vec<PathBuf> = std::env::split_paths(&current).collect();
    if parts.first().map(PathBuf::as_path) == Some(dir) {
        return;
    }
    parts.insert(0, dir.to_path_buf());
    if let Ok(joined) = std::env::join_paths(parts) {
        cmd::set_child_path(joined);
    }
}
