//! Where things are: the workspace, the cargo target dir, the site, the tools.

use std::path::PathBuf;

/// The workspace root (the parent of this crate's manifest dir). `cargo run` tells the running
/// binary its manifest dir; that wins over the one compiled in, because two checkouts sharing a
/// `CARGO_TARGET_DIR` share one xtask binary, and cargo may find the other checkout's build
/// fresh — it would then build and test the other checkout.
pub fn workspace() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// The cargo target dir: `CARGO_TARGET_DIR` if set, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace().join(dir)
            }
        }
        _ => workspace().join("target"),
    }
}

/// The host profile directory the `atlantic` binary lands in.
pub fn profile_dir(release: bool) -> PathBuf {
    target_dir().join(if release { "release" } else { "debug" })
}

/// The built binary.
pub fn binary(release: bool) -> PathBuf {
    profile_dir(release).join("atlantic")
}

/// The site (wasm, JS, CSS, assets) sits next to the binary, where `atlantic` looks by default.
pub fn site(release: bool) -> PathBuf {
    profile_dir(release).join("site")
}

/// Tools installed by the xtask (wasm-bindgen, wasm-opt), outside the clone so they survive it.
pub fn tools() -> PathBuf {
    if let Some(dir) = std::env::var_os("ATLANTIC_TOOLS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/tmp".into());
    home.join(".cache/atlantic/tools")
}
