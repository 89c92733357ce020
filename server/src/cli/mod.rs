//! The `atlantic` command line: `serve` (the default), `migrate`, `user`, `usage`, `upstream`,
//! `secrets`, `backup`, `healthcheck`.
//! Output meant for scripts goes to stdout; logs and messages go to stderr.

mod backup;
mod healthcheck;
mod migrate;
mod secrets;
mod upstream;
mod usage;
mod user;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use store::{Db, Keyring};

use crate::config::{self, CommonArgs, Config, ServeArgs};

/// AtlanticProxy: a residential proxy gateway with its customer dashboard.
#[derive(Parser, Debug)]
#[command(name = "atlantic", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    /// `serve`'s flags, also accepted without the subcommand (`atlantic` alone serves), so
    /// their environment variables apply either way.
    #[command(flatten)]
    serve: ServeArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the dashboard and the proxy gateway (the default).
    Serve(ServeArgs),
    /// Apply pending database migrations, or revert the newest one.
    Migrate {
        /// Revert the most recently applied migration instead.
        #[arg(long)]
        revert: bool,
    },
    /// Manage accounts.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Print an account's usage in its current period.
    Usage {
        /// The account's email.
        email: String,
    },
    /// Manage upstream exits (residential proxies the gateway relays through).
    #[command(subcommand)]
    Upstream(upstream::UpstreamCommand),
    /// Manage the secrets sealed at rest (`ATLANTIC_SECRET`).
    #[command(subcommand)]
    Secrets(secrets::SecretsCommand),
    /// Back up the database online, prune, verify and restore backups.
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Check that the service on `--listen`/`ATLANTIC_LISTEN` is alive (`GET /live`), for
    /// container health checks: exit 0 on 2xx, 1 with the reason otherwise.
    Healthcheck(healthcheck::HealthcheckArgs),
}

/// Parses the command line and runs it. Exit codes: 0 success, 1 failure, 2 bad usage or
/// configuration.
pub fn main() -> ExitCode {
    let mut cli = Cli::parse();
    // before anything that could fail on a setting the check does not need
    if let Some(Command::Healthcheck(args)) = &cli.command {
        return healthcheck::run(args, cli.serve.listen.as_deref());
    }
    // `NAME_FILE` secrets, read before any setting is
    if let Err(e) = config::secret_files() {
        return usage_error(format!("configuration error: {e}"));
    }
    // clap reads DATABASE_URL itself; DATABASE_URL_FILE's value stands in for it
    if cli.common.database_url.is_none() {
        cli.common.database_url = config::process_env("DATABASE_URL");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    match cli.command.unwrap_or(Command::Serve(cli.serve)) {
        Command::Serve(serve) => {
            let config = match Config::resolve(&serve, &cli.common, &config::process_env) {
                Ok(config) => config,
                Err(e) => return usage_error(format!("configuration error: {e}")),
            };
            crate::telemetry::init_tracing(config.log_format);
            report(runtime.block_on(crate::serve(config)))
        }
        // no migrations and no keyring: a backup copies the database as it is, and a restore
        // must not create the database it is aimed at
        Command::Backup(command) => {
            let url = match config::database_url(cli.common.database_url.as_deref()) {
                Ok(url) => url,
                Err(e) => return usage_error(format!("configuration error: {e}")),
            };
            report(runtime.block_on(backup::run(command, &url)))
        }
        other => {
            let url = match config::database_url(cli.common.database_url.as_deref()) {
                Ok(url) => url,
                Err(e) => return usage_error(format!("configuration error: {e}")),
            };
            let keyring = match config::keyring(&config::process_env) {
                Ok(keyring) => keyring,
                Err(e) => return usage_error(format!("configuration error: {e}")),
            };
            report(runtime.block_on(run_command(other, &url, keyring)))
        }
    }
}

async fn run_command(command: Command, url: &str, keyring: Keyring) -> anyhow::Result<()> {
    let db = Db::connect(url)
        .await
        .map_err(|e| anyhow::anyhow!("DATABASE_URL: {e}"))?
        .with_keyring(keyring);
    // commands that change what the gateways load
    let changes_directory = matches!(
        command,
        Command::User(_)
            | Command::Upstream(upstream::UpstreamCommand::Add { .. })
            | Command::Upstream(upstream::UpstreamCommand::Remove { .. })
    );
    let result = match command {
        Command::Migrate { revert } => migrate::run(&db, revert).await,
        Command::User(cmd) => {
            db.migrate().await?;
            user::run(&db, cmd).await
        }
        Command::Usage { email } => {
            db.migrate().await?;
            usage::run(&db, &email).await
        }
        Command::Upstream(cmd) => {
            db.migrate().await?;
            upstream::run(&db, cmd).await
        }
        Command::Secrets(cmd) => {
            db.migrate().await?;
            secrets::run(&db, cmd).await
        }
        Command::Serve(_) | Command::Backup(_) | Command::Healthcheck(_) => {
            unreachable!("serve, backup and healthcheck are handled before a database is opened")
        }
    };
    db.close().await;
    if result.is_ok() && changes_directory {
        announce_change().await;
    }
    result
}

/// In a cluster (`ATLANTIC_REDIS_URL` set), tells the running gateways that accounts or exits
/// changed, so they reload now rather than at their next periodic refresh. Best effort: the
/// refresh covers a notice that does not get through.
async fn announce_change() {
    let Some(url) = config::process_env("ATLANTIC_REDIS_URL") else {
        return;
    };
    let name = config::process_env("ATLANTIC_CLUSTER_NAME").unwrap_or_else(|| "atlantic".into());
    let published = async {
        let cluster = cluster::ClusterState::connect(&url, &name, "cli").await?;
        cluster.publish(cluster::Change::Directory).await
    };
    match tokio::time::timeout(std::time::Duration::from_secs(3), published).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => eprintln!(
            "atlantic: the change is saved; telling the gateways failed ({error}): they pick it \
             up at their next refresh"
        ),
        Err(_) => eprintln!(
            "atlantic: the change is saved; Redis did not answer: the gateways pick it up at \
             their next refresh"
        ),
    }
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `{:#}` prints the context chain on one line: "DATABASE_URL: cannot connect …: refused".
        Err(e) => fail(format!("{e:#}")),
    }
}

fn fail(message: String) -> ExitCode {
    eprintln!("atlantic: {message}");
    ExitCode::FAILURE
}

fn usage_error(message: String) -> ExitCode {
    eprintln!("atlantic: {message}");
    ExitCode::from(2)
}
