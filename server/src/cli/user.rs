//! `atlantic user add`: create an account from the command line.

use clap::Subcommand;
use store::{Db, accounts, credentials, plans, subscriptions};

/// Shortest password accepted, as for registration in the dashboard.
pub const MIN_PASSWORD_LEN: usize = 10;
/// How long a plan granted here lasts.
const GRANT_DAYS: i64 = 30;

/// `atlantic user …`
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account and print its proxy credentials as `proxy_username=…` and
    /// `proxy_password=…` lines.
    Add {
        /// Sign-in email (must not exist yet).
        #[arg(long)]
        email: String,
        /// Sign-in password (at least 10 characters).
        #[arg(long)]
        password: String,
        /// Grant this plan for 30 days without payment (Starter, Personal, Team, Enterprise, Unlimited).
        #[arg(long)]
        plan: Option<String>,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
    },
}

/// Runs a `user` subcommand.
pub async fn run(db: &Db, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            email,
            password,
            plan,
            admin,
        } => add(db, &email, &password, plan.as_deref(), admin).await,
    }
}

async fn add(
    db: &Db,
    email: &str,
    password: &str,
    plan: Option<&str>,
    admin: bool,
) -> anyhow::Result<()> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        anyhow::bail!("--password: use at least {MIN_PASSWORD_LEN} characters");
    }
    // Resolve the plan before creating anything, so a typo creates no account.
    let plan = match plan {
        Some(name) => Some(plans::by_name(db, name).await?.ok_or_else(|| {
            anyhow::anyhow!("--plan: no plan named \"{name}\" (try Starter, Personal, Team, Enterprise or Unlimited)")
        })?),
        None => None,
    };
    let hash = accounts::hash_password(password)?;
    let role = if admin {
        accounts::Role::Admin
    } else {
        accounts::Role::Customer
    };
    let now = store::now_ms();
    let account = accounts::create(db, email, &hash, role, now)
        .await
        .map_err(|e| anyhow::anyhow!("--email: {e}"))?;
    let creds = credentials::create(db, account.id, now).await?;
    if let Some(plan) = &plan {
        subscriptions::grant(db, account.id, plan.id, GRANT_DAYS, now).await?;
    }
    eprintln!(
        "created {} account {} ({})",
        role.as_str(),
        account.email,
        plan.as_ref().map_or("no plan".to_string(), |p| format!(
            "{} for {GRANT_DAYS} days",
            p.name
        ))
    );
    println!("proxy_username={}", creds.username);
    println!("proxy_password={}", creds.secret);
    Ok(())
}
