//! The monitoring tools the `monitoring` tests run: promtool and Prometheus (Debian's
//! `prometheus`), amtool (`prometheus-alertmanager`) and the node exporter
//! (`prometheus-node-exporter`), installed with apt when running as root.

use crate::cmd::{self, step};

/// Each tool the tests need and the Debian package that has it.
const TOOLS: [(&str, &str); 4] = [
    ("promtool", "prometheus"),
    ("prometheus", "prometheus"),
    ("amtool", "prometheus-alertmanager"),
    ("prometheus-node-exporter", "prometheus-node-exporter"),
];

/// Installs what is missing; `Err` names what is still missing afterwards.
pub fn ensure() -> Result<(), String> {
    step("checking the monitoring tools (promtool, prometheus, amtool, node exporter)");
    let missing = || -> Vec<(&str, &str)> {
        TOOLS
            .iter()
            .copied()
            .filter(|(tool, _)| !cmd::on_path(tool))
            .collect()
    };
    let absent = missing();
    if absent.is_empty() {
        println!("    all installed");
        return Ok(());
    }
    let mut packages: Vec<&str> = absent.iter().map(|(_, p)| *p).collect();
    packages.dedup();
    cmd::apt_install(&packages)?;
    match missing().as_slice() {
        [] => Ok(()),
        still => Err(format!(
            "missing {} (apt-get install {})",
            still.iter().map(|(t, _)| *t).collect::<Vec<_>>().join(", "),
            still.iter().map(|(_, p)| *p).collect::<Vec<_>>().join(" ")
        )),
    }
}
