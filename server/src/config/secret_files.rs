//! `NAME_FILE`: a secret's value read from a file instead of the environment, as Docker and
//! Kubernetes secrets provide them (`ATLANTIC_SECRET_FILE=/run/secrets/atlantic_secret`). The
//! files are read once at start-up ([`secret_files`]); [`process_env`](super::process_env) then
//! answers `NAME` with the file's contents, so every setting is read the one way it always is.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use super::{ConfigError, Env, err};

/// The secrets that may come from a file: each variable and its `_FILE` form.
pub const SECRET_VARIABLES: [(&str, &str); 6] = [
    ("ATLANTIC_SECRET", "ATLANTIC_SECRET_FILE"),
    ("ATLANTIC_SECRET_PREVIOUS", "ATLANTIC_SECRET_PREVIOUS_FILE"),
    ("PAYSTACK_SECRET_KEY", "PAYSTACK_SECRET_KEY_FILE"),
    ("ATLANTIC_METRICS_TOKEN", "ATLANTIC_METRICS_TOKEN_FILE"),
    ("DATABASE_URL", "DATABASE_URL_FILE"),
    ("ATLANTIC_REDIS_URL", "ATLANTIC_REDIS_URL_FILE"),
];

/// Secret values read from the files their `NAME_FILE` variables name, by `NAME`.
#[derive(Debug, Default)]
pub struct SecretFiles(HashMap<&'static str, String>);

impl SecretFiles {
    /// Reads the file of every `NAME_FILE` that `env` sets. A `NAME_FILE` next to its `NAME`, a
    /// file that cannot be read and an empty file are errors naming the variable.
    pub fn read(env: Env) -> Result<SecretFiles, ConfigError> {
        let mut values = HashMap::new();
        for (name, file_var) in SECRET_VARIABLES {
            let Some(path) = env(file_var) else {
                continue;
            };
            if env(name).is_some() {
                return Err(err(
                    file_var,
                    format!("is set and so is {name}: give the value one way, not both"),
                ));
            }
            values.insert(name, read_secret(file_var, Path::new(path.trim()))?);
        }
        Ok(SecretFiles(values))
    }

    /// The value `NAME`'s file held, if `NAME_FILE` was set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// One file's contents without the trailing line break(s) an editor or `echo` leaves.
fn read_secret(file_var: &'static str, path: &Path) -> Result<String, ConfigError> {
    let raw = std::fs::read_to_string(path)
        .map_err(|e| err(file_var, format!("cannot read {}: {e}", path.display())))?;
    let value = raw.trim_end_matches(['\n', '\r']);
    if value.trim().is_empty() {
        return Err(err(file_var, format!("{} is empty", path.display())));
    }
    Ok(value.to_owned())
}

static LOADED: OnceLock<SecretFiles> = OnceLock::new();

/// Reads the secret files the process environment names, so that
/// [`process_env`](super::process_env) answers with their contents from then on. Run once at
/// start-up, before anything reads a setting; a later call reads nothing new.
pub fn secret_files() -> Result<(), ConfigError> {
    if LOADED.get().is_none() {
        let files = SecretFiles::read(&super::raw_env)?;
        let _ = LOADED.set(files);
    }
    Ok(())
}

/// The value read for `name` by [`secret_files`], if any.
pub(super) fn loaded(name: &str) -> Option<String> {
    LOADED.get()?.get(name).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::{CommonArgs, Config, ServeArgs};

    /// A file in a fresh scratch directory, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, contents: &str) -> TempFile {
            let dir = std::env::temp_dir().join(format!(
                "atlantic-secret-files-{}-{name}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).expect("scratch dir");
            let path = dir.join("secret");
            std::fs::write(&path, contents).expect("write");
            TempFile(path)
        }

        fn path(&self) -> String {
            self.0.display().to_string()
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    fn read(vars: &[(&str, &str)]) -> Result<SecretFiles, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SecretFiles::read(&move |name: &str| map.get(name).cloned())
    }

    #[test]
    fn a_file_gives_the_value_without_its_trailing_line_break() {
        let secret = TempFile::new("read", "0123456789abcdef0123456789abcdef\n");
        let token = TempFile::new("crlf", "a-metrics-token-of-some-length\r\n\n");
        let files = read(&[
            ("ATLANTIC_SECRET_FILE", &secret.path()),
            ("ATLANTIC_METRICS_TOKEN_FILE", &token.path()),
        ])
        .expect("readable");
        assert_eq!(
            files.get("ATLANTIC_SECRET"),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(
            files.get("ATLANTIC_METRICS_TOKEN"),
            Some("a-metrics-token-of-some-length")
        );
        assert_eq!(files.get("DATABASE_URL"), None, "not set, not read");
    }

    #[test]
    fn inner_whitespace_and_no_final_line_break_are_kept_as_they_are() {
        let file = TempFile::new("exact", "redis://:p a s s@redis:6379");
        let files = read(&[("ATLANTIC_REDIS_URL_FILE", &file.path())]).expect("readable");
        assert_eq!(
            files.get("ATLANTIC_REDIS_URL"),
            Some("redis://:p a s s@redis:6379")
        );
    }

    #[test]
    fn both_the_variable_and_its_file_is_an_error_naming_both() {
        let file = TempFile::new("both", "postgres://a@b/c\n");
        let e = read(&[
            ("DATABASE_URL", "postgres://x@y/z"),
            ("DATABASE_URL_FILE", &file.path()),
        ])
        .expect_err("ambiguous");
        assert_eq!(e.var, "DATABASE_URL_FILE");
        let line = e.to_string();
        assert!(
            line.contains("DATABASE_URL_FILE") && line.contains("so is DATABASE_URL"),
            "{line}"
        );
    }

    #[test]
    fn a_missing_file_is_an_error_naming_the_variable_and_the_reason() {
        let missing = std::env::temp_dir().join("atlantic-no-such-secret/secret");
        let e = read(&[("PAYSTACK_SECRET_KEY_FILE", &missing.display().to_string())])
            .expect_err("missing");
        assert_eq!(e.var, "PAYSTACK_SECRET_KEY_FILE");
        let line = e.to_string();
        assert!(
            line.starts_with("PAYSTACK_SECRET_KEY_FILE: cannot read ")
                && line.contains(&missing.display().to_string())
                && line.contains("os error 2"),
            "{line}"
        );
    }

    #[test]
    fn an_empty_file_is_an_error() {
        let file = TempFile::new("empty", "\n");
        let e = read(&[("ATLANTIC_SECRET_PREVIOUS_FILE", &file.path())]).expect_err("empty");
        assert_eq!(e.var, "ATLANTIC_SECRET_PREVIOUS_FILE");
        assert!(e.to_string().contains("is empty"), "{e}");
    }

    /// The values reach the configuration as if the variables were set.
    #[test]
    fn the_configuration_reads_secrets_from_their_files() {
        let secret = TempFile::new("resolve-secret", "fedcba9876543210fedcba9876543210\n");
        let token = TempFile::new("resolve-token", "a-metrics-token-of-some-length\n");
        let env: HashMap<String, String> = [
            ("ATLANTIC_SECRET_FILE", secret.path()),
            ("ATLANTIC_METRICS_TOKEN_FILE", token.path()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let raw = |name: &str| env.get(name).cloned();
        let files = SecretFiles::read(&raw).expect("readable");
        let overlaid = |name: &str| files.get(name).map(str::to_owned).or_else(|| raw(name));
        let config = Config::resolve(&ServeArgs::default(), &CommonArgs::default(), &overlaid)
            .expect("valid");
        assert_eq!(config.secret.expose(), "fedcba9876543210fedcba9876543210");
        assert_eq!(
            config.metrics_token.as_ref().map(|t| t.expose()),
            Some("a-metrics-token-of-some-length")
        );
    }
}
