//! `atlantic upstream add|list|remove`: manage the upstream proxies traffic exits through.
//! The running gateway picks changes up at its next directory refresh (within seconds).

use clap::Subcommand;
use store::{Db, ExitId, exits};

/// `atlantic upstream …`
#[derive(Subcommand, Debug)]
pub enum UpstreamCommand {
    /// Add an upstream: `http://[user:pass@]host:port` or `socks5://[user:pass@]host:port`.
    Add {
        /// The upstream proxy's URL.
        url: String,
        /// ISO 3166-1 alpha-2 country of its exit address (e.g. ng, gb, us).
        #[arg(long)]
        country: String,
        /// City of its exit address.
        #[arg(long)]
        city: Option<String>,
        /// Pool name (default: `default`).
        #[arg(long)]
        pool: Option<String>,
        /// Name customers see (default: `CC #id`); never the upstream's address.
        #[arg(long)]
        name: Option<String>,
        /// Send destination names to this upstream to resolve, instead of addresses the
        /// gateway resolved and checked (the default). Only for upstreams trusted to refuse
        /// their own network: the gateway still checks the name, but not what the upstream's
        /// resolver answers.
        #[arg(long)]
        forward_names: bool,
    },
    /// List the upstreams (passwords hidden).
    List,
    /// Remove an upstream by id.
    Remove {
        /// The id `list` shows.
        id: i64,
    },
}

/// Runs an `upstream` subcommand.
pub async fn run(db: &Db, command: UpstreamCommand) -> anyhow::Result<()> {
    match command {
        UpstreamCommand::Add {
            url,
            country,
            city,
            pool,
            name,
            forward_names,
        } => {
            let new = exits::NewExit {
                city: city.as_deref(),
                pool: pool.as_deref(),
                name: name.as_deref(),
                forward_names,
                ..exits::NewExit::new(&url, &country)
            };
            let exit = exits::add(db, &new, store::now_ms()).await?;
            println!("{}", exit.id.get());
            eprintln!(
                "added upstream {} as \"{}\" ({}, pool {}{})",
                exit.display_url(),
                exit.name,
                exit.country,
                exit.pool,
                if exit.forward_names {
                    ", names forwarded"
                } else {
                    ""
                }
            );
        }
        UpstreamCommand::List => {
            println!(
                "  id  {:<20} {:<44} country city           pool       enabled  health",
                "name", "url"
            );
            for e in exits::list(db).await? {
                println!(
                    "{:>4}  {:<20} {:<44} {:<7} {:<14} {:<10} {:<8} {}",
                    e.id.get(),
                    e.name,
                    e.display_url(),
                    e.country,
                    e.city.as_deref().unwrap_or("-"),
                    e.pool,
                    if e.enabled { "yes" } else { "no" },
                    e.health.as_str(),
                );
            }
        }
        UpstreamCommand::Remove { id } => {
            exits::remove(db, ExitId(id))
                .await
                .map_err(|e| anyhow::anyhow!("upstream {id}: {e}"))?;
            eprintln!("removed upstream {id}");
        }
    }
    Ok(())
}
