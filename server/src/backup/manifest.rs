//! A backup's manifest, `FILE.manifest.json` beside it: what the file is (engine, name, size,
//! SHA-256), what made it (app version, newest migration), and what it holds (every table's
//! row count and key checksum, from the snapshot the backup was made of). `verify` and
//! `restore` trust a backup only as far as its manifest vouches for it.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};
use store::Backend;
use store::backup::Census;

use super::naming::{self, PARTIAL_SUFFIX};

/// The manifest format written; a reader refuses newer ones.
pub const FORMAT: u32 = 1;

/// What a backup file is and holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// The manifest format (1).
    pub format: u32,
    /// The engine backed up: `sqlite` or `postgres`.
    pub engine: Backend,
    /// When the snapshot was taken, RFC 3339 UTC.
    pub created_at: String,
    /// The backup file's name, without its directory.
    pub file: String,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// Its SHA-256, lower-case hex.
    pub sha256: String,
    /// The `atlantic` version that took it.
    pub app_version: String,
    /// The newest migration applied and every table's rows, from the backup's own snapshot.
    #[serde(flatten)]
    pub census: Census,
}

impl Manifest {
    /// Reads the manifest of the backup at `backup`.
    pub fn read_for(backup: &Path) -> anyhow::Result<Manifest> {
        let path = naming::manifest_path(backup);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{}: cannot read the backup's manifest (every backup has one beside it)",
                path.display()
            )
        })?;
        let manifest: Manifest = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a backup manifest", path.display()))?;
        if manifest.format > FORMAT {
            anyhow::bail!(
                "{}: manifest format {} is newer than this atlantic reads ({FORMAT}); use a \
                 newer atlantic",
                path.display(),
                manifest.format
            );
        }
        Ok(manifest)
    }

    /// Writes the manifest beside `backup`, complete or not at all (written aside, then
    /// renamed into place).
    pub fn write_for(&self, backup: &Path) -> anyhow::Result<PathBuf> {
        let path = naming::manifest_path(backup);
        let partial = naming::with_suffix(&path, PARTIAL_SUFFIX);
        let json = serde_json::to_vec_pretty(self).context("serialising the manifest")?;
        let written = (|| -> std::io::Result<()> {
            let mut file = private_file(&partial)?;
            file.write_all(&json)?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            std::fs::rename(&partial, &path)
        })();
        if let Err(error) = written {
            let _ = std::fs::remove_file(&partial);
            return Err(error).with_context(|| format!("{}: cannot write", path.display()));
        }
        Ok(path)
    }
}

/// A new file only its owner can read: backups hold password hashes and sealed secrets.
pub fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Makes an existing file readable by its owner only.
pub fn make_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The size and SHA-256 (lower-case hex) of the file at `path`, read in blocks.
pub fn size_and_sha256(path: &Path) -> anyhow::Result<(u64, String)> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buffer)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    Ok((size, store::backup::hex(&hasher.finalize())))
}
