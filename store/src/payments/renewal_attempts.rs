//! Automatic renewals: which subscriptions are due for one, and the attempts per period, each
//! recorded as a pending payment (like a checkout's) before the saved card is charged: the
//! renewal itself (attempt 0, a day before the period ends) and, when that was declined, the
//! dunning retries within grace (attempts 1 and 2, [`RETRY_AFTER_MS`] after the period's
//! end). The unique `(renewal_of, renewal_period_end, renewal_attempt)` index makes each
//! attempt happen once, however many housekeeping runs race for it and however often the
//! service restarts.

use super::{COLUMNS as PAYMENT_COLUMNS, NewPayment, Payment, validated};
use crate::subscriptions::{COLUMNS as SUBSCRIPTION_COLUMNS, Subscription, live_condition};
use crate::{AccountId, DAY_MS, Db, Page, Result, SubscriptionId};

/// When the retries of a declined renewal are due, after the period's end: day 1 and day 2
/// of the three days of grace ([`super::GRACE_MS`]), so the last one still leaves a day to
/// pay by hand before service stops.
pub const RETRY_AFTER_MS: [i64; 2] = [DAY_MS, 2 * DAY_MS];

/// The retry (1 or 2) due at `now_ms` for a period that ended at `period_end`, if any: the
/// latest whose time has come (one missed while the service was down is not made up; the
/// next one is made instead).
pub fn retry_due_at(period_end: i64, now_ms: i64) -> Option<i64> {
    (1..=2_i64)
        .rev()
        .find(|&n| period_end.saturating_add(RETRY_AFTER_MS[(n - 1) as usize]) <= now_ms)
}

/// When the next retry of a declined renewal will be made, if one will: `last_attempt` is the
/// highest attempt recorded for the period (0 the renewal itself), `renews` whether the
/// subscription is still renewed automatically (setting on, not cancelled, a card saved).
pub fn next_retry_at(period_end: i64, last_attempt: i64, renews: bool) -> Option<i64> {
    if !renews {
        return None;
    }
    let next = usize::try_from(last_attempt).ok()?;
    RETRY_AFTER_MS
        .get(next)
        .map(|after| period_end.saturating_add(*after))
}

/// Live subscriptions due for an automatic renewal: automatic renewal on, not cancelled at
/// the period's end, a saved card, a period that ends at or before `ends_by`, no attempt
/// recorded for that period yet (see [`record_attempt`]), and no checkout of the account
/// started since `checkout_since` still pending (the customer may be switching plans: the
/// renewal waits rather than charge for a period they are leaving). Soonest first, at most
/// `limit`.
pub async fn due(
    db: &Db,
    now_ms: i64,
    ends_by: i64,
    checkout_since: i64,
    limit: i64,
) -> Result<Vec<Subscription>> {
    let sql = format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions s \
         WHERE {} AND s.auto_renew = 1 AND s.cancel_at_period_end = 0 \
           AND s.authorization_code IS NOT NULL AND s.period_end <= $2 \
           AND NOT EXISTS (SELECT 1 FROM payments p \
                           WHERE p.renewal_of = s.id AND p.renewal_period_end = s.period_end) \
           AND NOT EXISTS (SELECT 1 FROM payments c \
                           WHERE c.account_id = s.account_id AND c.status = 'pending' \
                             AND c.renewal_of IS NULL AND c.created_at >= $3) \
         ORDER BY s.period_end, s.id LIMIT $4",
        live_condition("s", "$1")
    );
    Ok(sqlx::query_as::<_, Subscription>(&sql)
        .bind(now_ms)
        .bind(ends_by)
        .bind(checkout_since)
        .bind(limit.clamp(1, Page::MAX_LIMIT))
        .fetch_all(db.pool())
        .await?)
}

/// Live subscriptions whose declined renewal is due for a retry at `now_ms` (see
/// [`retry_due_at`]), with the attempt number to record: still renewed automatically (as in
/// [`due`]), the period ended at least a day ago, every attempt recorded for it so far
/// failed, none recorded yet for the retry due now, and no checkout of the account started
/// since `checkout_since` still pending. Soonest first, at most `limit`.
pub async fn retries_due(
    db: &Db,
    now_ms: i64,
    checkout_since: i64,
    limit: i64,
) -> Result<Vec<(Subscription, i64)>> {
    let sql = format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions s \
         WHERE {} AND s.auto_renew = 1 AND s.cancel_at_period_end = 0 \
           AND s.authorization_code IS NOT NULL AND s.period_end <= $2 \
           AND EXISTS (SELECT 1 FROM payments p \
                       WHERE p.renewal_of = s.id AND p.renewal_period_end = s.period_end) \
           AND NOT EXISTS (SELECT 1 FROM payments p \
                           WHERE p.renewal_of = s.id AND p.renewal_period_end = s.period_end \
                             AND (p.status <> 'failed' OR p.renewal_attempt >= \
                                  CASE WHEN s.period_end <= $3 THEN 2 ELSE 1 END)) \
           AND NOT EXISTS (SELECT 1 FROM payments c \
                           WHERE c.account_id = s.account_id AND c.status = 'pending' \
                             AND c.renewal_of IS NULL AND c.created_at >= $4) \
         ORDER BY s.period_end, s.id LIMIT $5",
        live_condition("s", "$1")
    );
    let due = sqlx::query_as::<_, Subscription>(&sql)
        .bind(now_ms)
        .bind(now_ms.saturating_sub(RETRY_AFTER_MS[0]))
        .bind(now_ms.saturating_sub(RETRY_AFTER_MS[1]))
        .bind(checkout_since)
        .bind(limit.clamp(1, Page::MAX_LIMIT))
        .fetch_all(db.pool())
        .await?;
    Ok(due
        .into_iter()
        .filter_map(|s| retry_due_at(s.period_end, now_ms).map(|n| (s, n)))
        .collect())
}

/// Records the renewal attempt for the period of `subscription` that ends at `period_end`: a
/// pending payment, made before anything is charged. Returns `None` when an attempt for that
/// period was recorded already (by a concurrent run, or before a restart), or when the
/// subscription is no longer renewed (automatic renewal turned off, cancelled at the period's
/// end, or the period changed since it was listed): the caller must then charge nothing. `NotFound` if the account, plan or subscription does not exist,
/// `Invalid` for a malformed reference, amount or currency.
pub async fn record_attempt(
    db: &Db,
    new: &NewPayment<'_>,
    subscription: SubscriptionId,
    period_end: i64,
    now_ms: i64,
) -> Result<Option<Payment>> {
    record_retry(db, new, subscription, period_end, 0, now_ms).await
}

/// [`record_attempt`] for attempt `attempt` of the period (0 the renewal, 1 and 2 the retries
/// within grace): `None` when that attempt was recorded already.
pub async fn record_retry(
    db: &Db,
    new: &NewPayment<'_>,
    subscription: SubscriptionId,
    period_end: i64,
    attempt: i64,
    now_ms: i64,
) -> Result<Option<Payment>> {
    let (reference, currency) = validated(new)?;
    if !(0..=2).contains(&attempt) {
        return Err(crate::StoreError::Invalid(format!(
            "a period has renewal attempts 0 to 2, not {attempt}"
        )));
    }
    // Recorded only while the customer still wants it: automatic renewal on, not cancelled,
    // and the period still the one listed. The setting is read again in the same statement,
    // so a switch turned off after the subscription was listed as due stops the charge.
    let sql = format!(
        "INSERT INTO payments \
             (account_id, plan_id, reference, amount_minor, currency, status, renewal_of, \
              renewal_period_end, renewal_attempt, created_at, updated_at) \
         SELECT $1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9, $9 \
          WHERE EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = $6 AND s.period_end = $7 \
                          AND s.auto_renew = 1 AND s.cancel_at_period_end = 0) \
         ON CONFLICT DO NOTHING RETURNING {PAYMENT_COLUMNS}"
    );
    let recorded = sqlx::query_as::<_, Payment>(&sql)
        .bind(new.account_id)
        .bind(new.plan_id)
        .bind(reference)
        .bind(new.amount_minor)
        .bind(currency)
        .bind(subscription)
        .bind(period_end)
        .bind(attempt)
        .bind(now_ms)
        .fetch_optional(db.pool())
        .await?;
    if recorded.is_none() {
        // Nothing inserted: say so for a subscription that does not exist at all.
        sqlx::query_scalar::<_, i64>("SELECT id FROM subscriptions WHERE id = $1")
            .bind(subscription)
            .fetch_optional(db.pool())
            .await?
            .ok_or(crate::StoreError::NotFound)?;
    }
    Ok(recorded)
}

/// Whether an automatic renewal of `account` is being charged (recorded, not settled yet):
/// a checkout waits for it rather than race it.
pub async fn in_flight(db: &Db, account: AccountId) -> Result<bool> {
    Ok(sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM payments \
         WHERE account_id = $1 AND status = 'pending' AND renewal_of IS NOT NULL",
    )
    .bind(account)
    .fetch_one(db.pool())
    .await?
        > 0)
}

/// Renewal attempts still pending that were recorded before `created_before`, oldest first:
/// the charge's answer may have been lost, so the caller verifies them again.
pub async fn pending(db: &Db, created_before: i64, limit: i64) -> Result<Vec<Payment>> {
    let sql = format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments \
         WHERE status = 'pending' AND renewal_of IS NOT NULL AND created_at < $1 \
         ORDER BY created_at, id LIMIT $2"
    );
    Ok(sqlx::query_as::<_, Payment>(&sql)
        .bind(created_before)
        .bind(limit.clamp(1, Page::MAX_LIMIT))
        .fetch_all(db.pool())
        .await?)
}

/// A renewal that did not go through, while the account still has service: what the
/// dashboard's banner tells the customer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dunning {
    /// The subscription in dunning.
    pub subscription_id: SubscriptionId,
    /// The end of the unpaid period.
    pub period_end: i64,
    /// When service stops unless a payment goes through.
    pub grace_until: i64,
    /// Whether an automatic renewal of this period was declined (otherwise the period simply
    /// ended unpaid: renewal off, or no saved card).
    pub renewal_failed: bool,
    /// When the saved card is tried again, if it will be.
    pub next_retry_at: Option<i64>,
}

/// The account's dunning state at `now_ms`: `Some` while its live subscription's period has
/// ended unpaid (grace), or its renewal for the period was declined and nothing is pending
/// or paid for it since. `None` when all is well, or there is no live plan.
pub async fn dunning(db: &Db, account: AccountId, now_ms: i64) -> Result<Option<Dunning>> {
    let Some(current) = crate::subscriptions::current(db, account, now_ms).await? else {
        return Ok(None);
    };
    let attempts = sqlx::query_as::<_, (String, i64)>(
        "SELECT status, renewal_attempt FROM payments \
         WHERE renewal_of = $1 AND renewal_period_end = $2 ORDER BY renewal_attempt",
    )
    .bind(current.id)
    .bind(current.period_end)
    .fetch_all(db.pool())
    .await?;
    let renewal_failed = !attempts.is_empty() && attempts.iter().all(|(s, _)| s == "failed");
    let ended = current.period_end <= now_ms;
    if !(renewal_failed || ended && attempts.is_empty()) {
        return Ok(None);
    }
    let renews =
        current.auto_renew && !current.cancel_at_period_end && current.authorization_code.is_some();
    let last = attempts.iter().map(|(_, n)| *n).max();
    let grace_until = current
        .grace_until
        .unwrap_or_else(|| super::grace_until(current.period_end));
    let next_retry_at = last
        .and_then(|last| next_retry_at(current.period_end, last, renews))
        .filter(|at| *at < grace_until);
    Ok(Some(Dunning {
        subscription_id: current.id,
        period_end: current.period_end,
        grace_until,
        renewal_failed,
        next_retry_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_come_on_day_one_and_two_of_grace() {
        let end = 1_800_000_000_000;
        assert_eq!(retry_due_at(end, end), None);
        assert_eq!(retry_due_at(end, end + DAY_MS - 1), None);
        assert_eq!(retry_due_at(end, end + DAY_MS), Some(1));
        assert_eq!(retry_due_at(end, end + 2 * DAY_MS - 1), Some(1));
        assert_eq!(retry_due_at(end, end + 2 * DAY_MS), Some(2));
        assert_eq!(
            retry_due_at(end, end + 30 * DAY_MS),
            Some(2),
            "never a third"
        );
        assert_eq!(next_retry_at(end, 0, true), Some(end + DAY_MS));
        assert_eq!(next_retry_at(end, 1, true), Some(end + 2 * DAY_MS));
        assert_eq!(next_retry_at(end, 2, true), None, "no more retries");
        assert_eq!(next_retry_at(end, 0, false), None, "renewal off: none");
    }
}
