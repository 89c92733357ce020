//! `atlantic user add`: create an account from the command line.

use clap::Subcommand;
use store::{Db, accounts, plans};

use crate::auth::MIN_PASSWORD_LEN;
use crate::provision::{self, GRANT_DAYS};

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
    /// Give an existing account a plan for 30 days without payment (support, trials).
    Grant {
        /// The account's sign-in email.
        #[arg(long)]
        email: String,
        /// The plan (Starter, Personal, Team, Enterprise, Unlimited).
        #[arg(long)]
        plan: String,
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
        UserCommand::Grant { email, plan } => grant(db, &email, &plan).await,
    }
}

async fn grant(db: &Db, email: &str, plan: &str) -> anyhow::Result<()> {
    let account = accounts::by_email(db, email)
        .await?
        .ok_or_else(|| anyhow::anyhow!("--email: no account with this email"))?;
    let plan = find_plan(db, plan).await?;
    store::subscriptions::grant(db, account.id, plan.id, GRANT_DAYS, store::now_ms()).await?;
    let event = store::activity::NewActivity {
        detail: serde_json::json!({ "plan": plan.name, "days": GRANT_DAYS, "by": "cli" }),
        ..store::activity::NewActivity::new(Some(account.id), "plan.granted")
    };
    store::activity::record(db, &event, store::now_ms()).await?;
    eprintln!(
        "granted {} to {} for {GRANT_DAYS} days",
        plan.name, account.email
    );
    Ok(())
}

async fn find_plan(db: &Db, name: &str) -> anyhow::Result<plans::Plan> {
    plans::by_name(db, name).await?.ok_or_else(|| {
        anyhow::anyhow!(
            "--plan: no plan named \"{name}\" (try Starter, Personal, Team, Enterprise or Unlimited)"
        )
    })
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
        Some(name) => Some(find_plan(db, name).await?),
        None => None,
    };
    let role = if admin {
        accounts::Role::Admin
    } else {
        accounts::Role::Customer
    };
    let (account, creds) = provision::account(db, email, password, role, plan.as_ref())
        .await
        .map_err(|e| match e {
            store::StoreError::Conflict(_) | store::StoreError::Invalid(_) => {
                anyhow::anyhow!("--email: {e}")
            }
            other => other.into(),
        })?;
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
