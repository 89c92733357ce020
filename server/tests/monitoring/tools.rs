//! The monitoring tools on this machine, and the repository's `ops/` folder.

use std::path::{Path, PathBuf};

/// The repository's `ops/` folder.
pub fn ops() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ops")
}

/// The path of `name` on `PATH`, or `None` (outside CI) when it is not installed. In CI a
/// missing tool fails the test: a skipped check must not pass as green.
pub fn tool(name: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "{name} is not installed (apt-get install {package}); CI=true requires it"
        );
        eprintln!("SKIPPED: {name} is not installed (apt-get install {package})");
    }
    found
}

/// Runs `program args…` and returns (success, stdout + stderr).
pub fn run(program: &Path, args: &[&str], dir: &Path) -> (bool, String) {
    let output = std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{} could not start: {e}", program.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}
