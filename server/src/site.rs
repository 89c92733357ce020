//! The built site: reads `assets.json`, which the build writes next to the hashed assets.

use std::path::Path;

use app::Assets;
use serde::Deserialize;

/// What `cargo xtask build` wrote into `<site_root>/assets.json`.
#[derive(Debug, Deserialize)]
struct Manifest {
    output_name: String,
    css: String,
    echarts: String,
}

/// The built site: the wasm/JS stem Leptos loads and the other hashed assets.
#[derive(Clone, Debug)]
pub struct Site {
    /// `atlantic-<hash>`: `/pkg/<output_name>.js` and `<output_name>_bg.wasm`.
    pub output_name: String,
    /// Stylesheet and ECharts names for the document head.
    pub assets: Assets,
}

/// Loads the site manifest; the error says how to build the site.
pub fn load(site_root: &Path) -> Result<Site, String> {
    let path = site_root.join("assets.json");
    let raw = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "ATLANTIC_SITE_ROOT: cannot read {} ({e}); build the site with `cargo xtask build`",
            path.display()
        )
    })?;
    let manifest: Manifest = serde_json::from_str(&raw).map_err(|e| {
        format!(
            "ATLANTIC_SITE_ROOT: {} is not a site manifest ({e})",
            path.display()
        )
    })?;
    Ok(Site {
        output_name: manifest.output_name,
        assets: Assets {
            css: manifest.css,
            echarts: manifest.echarts,
        },
    })
}
