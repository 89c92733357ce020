//! PostgreSQL's own tools as child processes: `pg_dump` writes the backup (custom format,
//! from the snapshot the census counted), `pg_restore` lists or restores it. They come with
//! Debian's `postgresql-client` package, at a major version at least the server's (pg_dump
//! refuses a newer server).
//!
//! The password never goes on a command line, where `ps` would show it: it is taken out of
//! the URL and handed over in `PGPASSWORD`.

use std::path::Path;
use std::process::Stdio;

use anyhow::Context;
use tokio::process::Command;

/// `pg_dump --format=custom --snapshot=SNAPSHOT` of the database at `url` into `file`.
pub async fn dump(url: &str, snapshot: &str, file: &Path) -> anyhow::Result<()> {
    let mut command = tool("pg_dump", url)?;
    command
        .arg("--format=custom")
        .arg(format!("--snapshot={snapshot}"))
        .arg("--file")
        .arg(file);
    run("pg_dump", command).await.map(drop)
}

/// `pg_restore --list FILE`: whether the archive can be read; returns its number of entries.
pub async fn list(file: &Path) -> anyhow::Result<usize> {
    let mut command = Command::new("pg_restore");
    command.arg("--list").arg(file);
    let listing = run("pg_restore", command).await?;
    Ok(listing
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with(';'))
        .count())
}

/// `pg_restore --file=/dev/null FILE`: reads (and decompresses) every entry of the archive,
/// data included, and writes the SQL nowhere: damage past the table of contents that
/// `--list` reads shows here.
pub async fn read_whole(file: &Path) -> anyhow::Result<()> {
    let mut command = Command::new("pg_restore");
    command.arg("--file=/dev/null").arg(file);
    run("pg_restore", command).await.map(drop)
}

/// `pg_restore` of `file` into the database at `url`, in one transaction: without the
/// owners and grants of the database it came from, and, with `clean`, dropping the objects
/// it restores first.
pub async fn restore(url: &str, file: &Path, clean: bool) -> anyhow::Result<()> {
    let mut command = tool("pg_restore", url)?;
    command
        .args(["--no-owner", "--no-privileges", "--single-transaction"])
        .arg("--exit-on-error");
    if clean {
        command.args(["--clean", "--if-exists"]);
    }
    command.arg(file);
    run("pg_restore", command).await.map(drop)
}

/// `program` aimed at the database at `url` (`--dbname`), never prompting for a password.
fn tool(program: &str, url: &str) -> anyhow::Result<Command> {
    let mut parsed = url::Url::parse(url)
        .with_context(|| format!("DATABASE_URL is not a URL {program} can use"))?;
    let mut command = Command::new(program);
    if let Some(password) = parsed.password() {
        let password = percent_decode(password);
        command.env("PGPASSWORD", password);
        parsed
            .set_password(None)
            .map_err(|()| anyhow::anyhow!("DATABASE_URL: cannot take the password out"))?;
    }
    command
        .arg("--no-password")
        .arg("--dbname")
        .arg(parsed.as_str());
    Ok(command)
}

/// Runs `command`, returning its standard output; a failure carries its standard error, and a
/// missing program says which package installs it.
async fn run(program: &str, mut command: Command) -> anyhow::Result<String> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = match command.output().await {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            anyhow::bail!(
                "{program} is not installed (or not on PATH): install Debian's \
                 postgresql-client package (apt-get install postgresql-client), at a major \
                 version at least the PostgreSQL server's"
            );
        }
        Err(error) => return Err(error).with_context(|| format!("cannot run {program}")),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let detail = stderr.split_whitespace().collect::<Vec<_>>().join(" ");
        anyhow::bail!("{program} failed ({}): {detail}", output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `%XX` sequences decoded (URL user info is percent-encoded; libpq wants the raw password).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_goes_in_the_environment_not_the_arguments() {
        let command =
            tool("pg_dump", "postgres://app:s3cr%40t@db.example:5432/atl").expect("a URL");
        let std = command.as_std();
        let args: Vec<String> = std
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(!args.iter().any(|a| a.contains("s3cr")), "{args:?}");
        assert!(args.contains(&"postgres://app@db.example:5432/atl".to_owned()));
        let password = std
            .get_envs()
            .find(|(k, _)| *k == "PGPASSWORD")
            .and_then(|(_, v)| v)
            .map(|v| v.to_string_lossy().into_owned());
        assert_eq!(password.as_deref(), Some("s3cr@t"));
    }
}
