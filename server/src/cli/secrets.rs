//! `atlantic secrets rotate`: re-seals the secrets stored at rest under the current key.

use clap::Subcommand;
use store::{Db, secrets};

/// `atlantic secrets …`
#[derive(Subcommand, Debug)]
pub enum SecretsCommand {
    /// Re-seal every secret sealed under an older key (one of ATLANTIC_SECRET_PREVIOUS) under
    /// ATLANTIC_SECRET, in one transaction. Afterwards the previous secrets can be dropped.
    Rotate,
}

/// Runs a `secrets` subcommand.
pub async fn run(db: &Db, command: SecretsCommand) -> anyhow::Result<()> {
    match command {
        SecretsCommand::Rotate => {
            let rotation = secrets::rotate(db).await?;
            println!("resealed={}", rotation.resealed);
            println!("key_version={}", rotation.version);
            eprintln!(
                "re-sealed {} secret(s) under key version {}; {} were under it already",
                rotation.resealed, rotation.version, rotation.current
            );
        }
    }
    Ok(())
}
