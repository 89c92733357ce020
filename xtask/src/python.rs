//! The Python tools the API tests run, in a venv under the tools directory
//! (`$ATLANTIC_TOOLS_DIR/python`), made once and reused: schemathesis, which tests the live
//! service against its OpenAPI document, and `requests`, which the Python example in
//! docs/api.md uses. Both pinned; quick when the venv already holds exactly these.

use std::path::PathBuf;

use crate::cmd::{self, command, run, step};
use crate::paths;

/// The pinned packages, as pip takes them.
const PACKAGES: [&str; 2] = ["schemathesis==4.32.5", "requests==2.34.2"];

/// Where the venv is made and what it was made with.
fn venv() -> PathBuf {
    paths::tools().join("python")
}

const STAMP: &str = ".atlantic-packages";

/// Makes the venv with [`PACKAGES`] unless it holds them already; returns its folder, which
/// `cargo xtask test` hands the tests as `ATLANTIC_TEST_PYTHON_VENV`.
pub fn ensure() -> Result<PathBuf, String> {
    step("checking the Python tools (schemathesis, requests) in a venv");
    let dir = venv();
    let python = dir.join("bin/python");
    let wanted = PACKAGES.join("\n");
    let stamped = std::fs::read_to_string(dir.join(STAMP)).is_ok_and(|s| s == wanted);
    if stamped && python.is_file() && dir.join("bin/st").is_file() {
        println!("    installed in {}", dir.display());
        return Ok(dir);
    }
    if !python.is_file() {
        let make = || run(command("python3").arg("-m").arg("venv").arg(&dir));
        if make().is_err() {
            // Debian's python3 makes venvs only with python3-venv.
            let _ = std::fs::remove_dir_all(&dir);
            cmd::apt_install(&["python3-venv"])?;
            make().map_err(|e| format!("cannot make a Python venv: {e}"))?;
        }
    }
    step(&format!(
        "installing {} into {} (once)",
        PACKAGES.join(", "),
        dir.display()
    ));
    let python = python.to_string_lossy().into_owned();
    run(command(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(PACKAGES))?;
    std::fs::write(dir.join(STAMP), wanted).map_err(|e| e.to_string())?;
    Ok(dir)
}
