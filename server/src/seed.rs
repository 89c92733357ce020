//! Development only: on an empty database, create a demo account with a plan and print how to
//! sign in and how to send traffic through the gateway.

use rand::Rng;
use rand::distr::Alphanumeric;
use store::{Db, accounts, plans};

use crate::provision::{self, GRANT_DAYS};

/// The demo account's sign-in email.
pub const DEMO_EMAIL: &str = "demo@atlanticproxy.test";
/// The plan the demo account gets.
const DEMO_PLAN: &str = "Personal";

/// Creates the demo account when there are no accounts at all, and prints its credentials.
pub async fn demo_if_empty(db: &Db) -> anyhow::Result<()> {
    if accounts::count(db).await? > 0 {
        return Ok(());
    }
    let password: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(16)
        .map(char::from)
        .collect();
    let plan = plans::by_name(db, DEMO_PLAN).await?;
    let (_, creds) = provision::account(
        db,
        DEMO_EMAIL,
        &password,
        accounts::Role::Customer,
        plan.as_ref(),
    )
    .await?;
    // Printed, not logged: this is for the person who just started the service.
    println!(
        "\n  Demo account (development only)\n\
         \x20   dashboard sign-in: {DEMO_EMAIL} / {password}\n\
         \x20   proxy_username={}\n\
         \x20   proxy_password={}\n\
         \x20   plan: {DEMO_PLAN}, {GRANT_DAYS} days\n",
        creds.username, creds.secret
    );
    Ok(())
}
