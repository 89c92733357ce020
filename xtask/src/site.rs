//! Builds the site the server serves (wasm, its JS glue, CSS, ECharts, public assets) with
//! content-hashed names so browsers may cache them forever, then the `atlantic` binary.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use crate::cmd::{cargo, command, run, step};
use crate::{paths, tools};

/// The stem of every generated asset; the hash is appended (`atlantic-1a2b3c4d5e6f7a8b.js`).
const NAME: &str = "atlantic";

/// Builds the site and the server; returns the binary's path.
pub fn build_all(release: bool) -> Result<PathBuf, String> {
    build_site(release)?;
    build_server(release)
}

/// `cargo xtask run`: build, then become `atlantic serve` (exec, so Ctrl-C reaches the server
/// directly and it shuts down gracefully).
pub fn serve(release: bool, args: &[String]) -> Result<(), String> {
    let binary = build_all(release)?;
    step("starting atlantic (Ctrl-C stops it)");
    let mut serve = command(&binary.to_string_lossy());
    if args.is_empty() {
        serve.arg("serve");
    } else {
        serve.args(args);
    }
    // The local demo's "Test my proxy" probes an echo on this machine (loopback), which the
    // gateway refuses unless private destinations are allowed. Only in development, and only
    // when the caller has not decided otherwise.
    let production = std::env::var("ATLANTIC_ENV").is_ok_and(|e| e.trim().starts_with("prod"));
    if !production && std::env::var_os("ATLANTIC_ALLOW_PRIVATE_DESTINATIONS").is_none() {
        serve.env("ATLANTIC_ALLOW_PRIVATE_DESTINATIONS", "1");
    }
    let err = serve.current_dir(paths::workspace()).exec();
    Err(format!("could not start {}: {err}", binary.display()))
}

/// Builds the wasm, runs wasm-bindgen (and wasm-opt in release), and assembles the site next to
/// the binary. The site is replaced as a whole, so a failed build leaves the old one in place.
pub fn build_site(release: bool) -> Result<PathBuf, String> {
    tools::ensure_build_tools(release)?;
    tools::ensure_site_packages()?;
    let root = paths::workspace();

    step(&format!(
        "building the dashboard's wasm ({})",
        profile_label(release)
    ));
    let mut wasm = cargo(&root);
    wasm.args([
        "build",
        "--package",
        "frontend",
        "--lib",
        "--target",
        "wasm32-unknown-unknown",
    ]);
    if release {
        wasm.args(["--profile", "wasm-release"]);
    }
    run(&mut wasm)?;
    let wasm_file = paths::target_dir()
        .join("wasm32-unknown-unknown")
        .join(if release { "wasm-release" } else { "debug" })
        .join("frontend.wasm");

    let site = paths::site(release);
    let staging = site.with_file_name("site.staging");
    let _ = fs::remove_dir_all(&staging);
    let pkg = staging.join("pkg");
    fs::create_dir_all(&pkg).map_err(|e| format!("cannot create {}: {e}", pkg.display()))?;

    step("generating the JS bindings (wasm-bindgen)");
    run(command("wasm-bindgen")
        .args([
            "--target",
            "web",
            "--no-typescript",
            "--out-name",
            NAME,
            "--out-dir",
        ])
        .arg(&pkg)
        .arg(&wasm_file))?;
    let bg_wasm = pkg.join(format!("{NAME}_bg.wasm"));
    if release {
        step("optimising the wasm (wasm-opt -Oz)");
        run(command("wasm-opt")
            .args([
                "-Oz",
                "--enable-bulk-memory",
                "--enable-nontrapping-float-to-int",
            ])
            .arg(&bg_wasm)
            .arg("-o")
            .arg(&bg_wasm))?;
    }

    step("assembling the site");
    copy_tree(&root.join("public"), &staging)?;
    let css = concat_css(&root.join("style"))?;
    let js = read(&pkg.join(format!("{NAME}.js")))?;
    let wasm_bytes = read(&bg_wasm)?;
    let echarts = bundle_echarts(&root, &staging)?;

    let hash = format!("{:016x}", fnv1a(&[&js, &wasm_bytes, &css]));
    let output_name = format!("{NAME}-{hash}");
    rename(
        &pkg.join(format!("{NAME}.js")),
        &pkg.join(format!("{output_name}.js")),
    )?;
    rename(&bg_wasm, &pkg.join(format!("{output_name}_bg.wasm")))?;
    write(&pkg.join(format!("{output_name}.css")), &css)?;
    let echarts_name = format!("echarts-{:016x}.min.js", fnv1a(&[&echarts]));
    write(&pkg.join(&echarts_name), &echarts)?;

    let manifest = format!(
        "{{\n  \"output_name\": \"{output_name}\",\n  \"css\": \"{output_name}.css\",\n  \"echarts\": \"{echarts_name}\"\n}}\n"
    );
    write(&staging.join("assets.json"), manifest.as_bytes())?;
    if release {
        step("precompressing the assets (brotli 11, gzip 9)");
        precompress(&pkg)?;
    }

    let _ = fs::remove_dir_all(&site);
    rename(&staging, &site)?;
    println!("    site: {} ({output_name})", site.display());
    Ok(site)
}

/// Builds the `atlantic` binary.
pub fn build_server(release: bool) -> Result<PathBuf, String> {
    step(&format!("building the server ({})", profile_label(release)));
    let mut build = cargo(&paths::workspace());
    build.args(["build", "--package", "server", "--bin", "atlantic"]);
    if release {
        build.arg("--release");
    }
    run(&mut build)?;
    Ok(paths::binary(release))
}

fn profile_label(release: bool) -> &'static str {
    if release { "release" } else { "debug" }
}

/// Every `style/*.css`, in name order, as one stylesheet.
fn concat_css(dir: &Path) -> Result<Vec<u8>, String> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "css"))
        .collect();
    files.sort();
    let mut css = Vec::new();
    for file in files {
        css.extend(read(&file)?);
        css.push(b'\n');
    }
    Ok(css)
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    let Ok(entries) = fs::read_dir(from) else {
        return Ok(());
    };
    fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let dest = to.join(entry.file_name());
        if path.is_dir() {
            copy_tree(&path, &dest)?;
        } else {
            fs::copy(&path, &dest).map_err(|e| format!("cannot copy {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// FNV-1a over several byte strings: a stable content hash for cache-busting names.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn rename(from: &Path, to: &Path) -> Result<(), String> {
    fs::rename(from, to)
        .map_err(|e| format!("cannot move {} to {}: {e}", from.display(), to.display()))
}

/// Writes `<file>.br` and `<file>.gz` next to every asset in `dir`, at the best ratios: the
/// server sends these as they are instead of compressing on every request.
fn precompress(dir: &Path) -> Result<(), String> {
    use std::io::Write;
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if !path
            .extension()
            .is_some_and(|x| x == "wasm" || x == "js" || x == "css")
        {
            continue;
        }
        let bytes = read(&path)?;
        let mut br = brotli::CompressorWriter::new(Vec::new(), 64 * 1024, 11, 22);
        br.write_all(&bytes).map_err(|e| e.to_string())?;
        let br = br.into_inner();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&bytes).map_err(|e| e.to_string())?;
        let gz = gz.finish().map_err(|e| e.to_string())?;
        let name = path.display().to_string();
        write(Path::new(&format!("{name}.br")), &br)?;
        write(Path::new(&format!("{name}.gz")), &gz)?;
        println!(
            "    {}: {} B, br {} B, gzip {} B",
            path.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
            bytes.len(),
            br.len(),
            gz.len()
        );
    }
    Ok(())
}

/// Bundles `end2end/echarts/dashboard.js` (only the series and components the dashboard
/// draws) into one minified script defining `window.echarts`: 190 KB gzipped instead of 368 KB
/// for ECharts' full build and 240 KB for its "common" one.
fn bundle_echarts(root: &Path, staging: &Path) -> Result<Vec<u8>, String> {
    let out = staging.join("echarts.bundle.js");
    let esbuild = root.join("end2end/node_modules/.bin/esbuild");
    run(command(&esbuild.to_string_lossy())
        .current_dir(root.join("end2end"))
        .args([
            "echarts/dashboard.js",
            "--bundle",
            "--minify",
            "--format=iife",
            "--global-name=echarts",
            "--legal-comments=eof",
            "--log-level=warning",
            "--banner:js=/*! Apache ECharts (Apache-2.0, https://echarts.apache.org): line, bar and pie series, grid, tooltip, legend, canvas renderer */",
        ])
        .arg(format!("--outfile={}", out.display())))?;
    let bytes = read(&out)?;
    fs::remove_file(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(bytes)
}
