//! Running child commands with a visible echo and one-line errors.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

/// The PATH children get: ours, with the tools directories in front. (`std::env::set_var` is
/// `unsafe` in edition 2024 and the workspace forbids unsafe code, so it is passed explicitly.)
static CHILD_PATH: Mutex<Option<OsString>> = Mutex::new(None);

/// The PATH that children of the xtask see.
pub fn child_path() -> OsString {
    let guard = CHILD_PATH.lock().unwrap_or_else(|e| e.into_inner());
    guard
        .clone()
        .unwrap_or_else(|| std::env::var_os("PATH").unwrap_or_default())
}

/// Sets the PATH that children of the xtask see.
pub fn set_child_path(path: OsString) {
    *CHILD_PATH.lock().unwrap_or_else(|e| e.into_inner()) = Some(path);
}

/// A command whose program is looked up in, and which inherits, the children's PATH.
pub fn command(program: &str) -> Command {
    let mut c = Command::new(program);
    c.env("PATH", child_path());
    c
}

/// Prints a step banner, so a long run shows where it is.
pub fn step(title: &str) {
    println!("\n==> {title}");
}

/// Runs `cmd` to completion, inheriting stdio; fails with the command line on a non-zero exit.
pub fn run(cmd: &mut Command) -> Result<(), String> {
    let line = describe(cmd);
    println!("    $ {line}");
    let started = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("could not start `{line}`: {e}"))?;
    if status.success() {
        println!("    ({:.1} s)", started.elapsed().as_secs_f64());
        Ok(())
    } else {
        Err(format!("`{line}` failed ({status})"))
    }
}

/// Runs `cmd` quietly and returns its stdout, or None when it cannot run or fails.
pub fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether `program` is found on PATH.
pub fn on_path(program: &str) -> bool {
    output(command("sh").args(["-c", &format!("command -v {program}")])).is_some()
}

/// Installs Debian `packages` with apt when running as root on a machine that has apt-get;
/// otherwise does nothing (the caller then reports what is still missing).
pub fn apt_install(packages: &[&str]) -> Result<(), String> {
    let is_root = output(command("id").arg("-u")).is_some_and(|u| u.trim() == "0");
    if !is_root || !on_path("apt-get") {
        return Ok(());
    }
    step(&format!(
        "installing Debian's {} (once)",
        packages.join(", ")
    ));
    run(command("apt-get").args(["update", "-qq"]))?;
    run(command("apt-get")
        .args(["install", "-y", "-qq"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// A `cargo` command rooted at the workspace.
pub fn cargo(root: &Path) -> Command {
    let mut c = command(&std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root);
    c
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}
