//! `backup prune` (and the end of `backup create`): deletes the backups the retention does
//! not keep. Only our own files are touched: a name of ours (`atlantic-<UTC time>.sqlite` or
//! `.pgdump`) with a manifest beside it that names it. Anything else in the directory (other
//! files, our names without a manifest, unfinished `.partial` files) is left alone.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::manifest::Manifest;
use super::naming::{self, BackupName};
use super::retention::{self, Retention};

/// What a prune did.
#[derive(Debug, Clone, Default)]
pub struct Pruned {
    /// The backups kept, oldest first.
    pub kept: Vec<PathBuf>,
    /// The backups deleted (with their manifests), oldest first.
    pub deleted: Vec<PathBuf>,
}

/// Deletes the backups in `dir` that `retention` does not keep.
pub fn prune(dir: &Path, retention: Retention) -> anyhow::Result<Pruned> {
    let mut backups = ours(dir)?;
    backups.sort_by_key(|(_, name)| name.taken);
    let taken: Vec<_> = backups.iter().map(|(_, name)| name.taken).collect();
    let keep = retention::keep(&taken, retention);
    let mut pruned = Pruned::default();
    for (i, (path, _)) in backups.into_iter().enumerate() {
        if keep.contains(&i) {
            pruned.kept.push(path);
            continue;
        }
        std::fs::remove_file(&path)
            .with_context(|| format!("{}: cannot delete", path.display()))?;
        let manifest = naming::manifest_path(&path);
        std::fs::remove_file(&manifest)
            .with_context(|| format!("{}: cannot delete", manifest.display()))?;
        pruned.deleted.push(path);
    }
    Ok(pruned)
}

/// The backups in `dir` that are ours: our name, and a manifest beside naming that file.
pub fn ours(dir: &Path) -> anyhow::Result<Vec<(PathBuf, BackupName)>> {
    let entries = std::fs::read_dir(dir).with_context(|| {
        format!(
            "--dir/ATLANTIC_BACKUP_DIR: cannot read the backup directory {}",
            dir.display()
        )
    })?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("{}: cannot list", dir.display()))?;
        let Ok(file_name) = entry.file_name().into_string() else {
            continue;
        };
        let Some(name) = BackupName::parse(&file_name) else {
            continue;
        };
        let path = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let described = Manifest::read_for(&path).is_ok_and(|m| m.file == file_name);
        if described {
            found.push((path, name));
        }
    }
    Ok(found)
}
