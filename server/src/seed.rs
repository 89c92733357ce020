//! Development only: on an empty database, create a demo account with a plan and print how to
//! sign in and how to send traffic through the gateway.

use rand::Rng;
use rand::distr::Alphanumeric;
use store::{Db, accounts, plans};
use wire::ErrorCode;

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
    let (account, creds) = provision::account(
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
    history(db, account.id, store::now_ms()).await?;
    Ok(())
}

/// Days of made-up traffic the demo account starts with.
const HISTORY_DAYS: i64 = 30;

/// Fills the demo account's last 30 days with plausible hourly traffic (a daily rhythm, a few
/// countries and sticky sessions, some failures), so the charts have something to show.
/// Recorded through the same `usage::record` the gateway's flushes use.
pub async fn history(db: &Db, account: store::AccountId, now_ms: i64) -> anyhow::Result<()> {
    store::usage::record(db, &made_up_usage(account, now_ms)).await?;
    Ok(())
}

fn made_up_usage(account: store::AccountId, now_ms: i64) -> Vec<store::usage::UsageDelta> {
    use store::usage::{UsageDelta, hour_floor};
    const COUNTRIES: [&str; 4] = ["ng", "gh", "ke", "za"];
    const SESSIONS: [&str; 3] = ["checkout", "crawler1", "crawler2"];
    let mut rng = rand::rng();
    let current = hour_floor(now_ms);
    let mut deltas = Vec::new();
    for h in 1..=HISTORY_DAYS * 24 {
        let at = current - h * store::HOUR_MS;
        // Busier in the afternoon (UTC), quieter at night.
        let hour_of_day = (at / store::HOUR_MS).rem_euclid(24);
        let rhythm = 1.0 + (((hour_of_day as f64 - 15.0) / 24.0) * std::f64::consts::TAU).cos();
        let requests = (rhythm * f64::from(rng.random_range(20u32..120))) as i64;
        if requests == 0 {
            continue;
        }
        let errors = requests / 40;
        let country = COUNTRIES[rng.random_range(0..COUNTRIES.len())];
        deltas.push(UsageDelta {
            country: country.to_owned(),
            session: SESSIONS[rng.random_range(0..SESSIONS.len())].to_owned(),
            bytes_up: requests * rng.random_range(600..1_400),
            bytes_down: requests * rng.random_range(40_000..160_000),
            requests,
            errors,
            error_codes: if errors > 0 {
                vec![(ErrorCode::UpstreamFailed.as_str().to_owned(), errors)]
            } else {
                Vec::new()
            },
            ..UsageDelta::new(account, at)
        });
    }
    deltas
}
