//! `atlantic usage EMAIL`: the current period's totals, as flushed so far.

use store::{Db, accounts, subscriptions, usage};

/// Without a live subscription, "the current period" is the last 30 days.
const FALLBACK_PERIOD_MS: i64 = 30 * 86_400_000;

/// Prints `bytes_up=… bytes_down=… requests=… errors=…` on one line.
pub async fn run(db: &Db, email: &str) -> anyhow::Result<()> {
    let account = accounts::by_email(db, email)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no account with email \"{email}\""))?;
    let now = store::now_ms();
    let from = match subscriptions::current(db, account.id, now).await? {
        Some(sub) => sub.period_start,
        None => now - FALLBACK_PERIOD_MS,
    };
    // Buckets are hours: count the one holding the period's start, up to the one holding now.
    let t = usage::totals(db, account.id, usage::hour_floor(from), now + 1).await?;
    println!(
        "bytes_up={} bytes_down={} requests={} errors={}",
        t.bytes_up, t.bytes_down, t.requests, t.errors
    );
    Ok(())
}
