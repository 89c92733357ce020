//! Turning a successful payment into the period it paid for: exactly once, on one account at
//! a time, and never at the cost of another payment. A payment and an automatic renewal of
//! the same account can settle at the same moment (the customer switches plans while the
//! saved card is being charged); [`fulfil`] serializes them per account and makes sure a
//! renewal never takes the place of a plan the customer chose, in either order: a renewal
//! that settles after the switch, or one charged after the customer had started paying for
//! another plan, is `superseded` — paid, nothing activated, its refund owed (see
//! [`super::refunds`]).

use sqlx::AnyConnection;

use super::{COLUMNS, Payment, PaymentOutcome, PaymentStatus};
use crate::subscriptions::{COLUMNS as SUBSCRIPTION_COLUMNS, Subscription};
use crate::{AccountId, Backend, Db, PlanId, Result, StoreError};

/// The new period a successful payment buys, starting `now_ms`: `days` long, plus what was
/// left of a live period of the same plan (paying early loses nothing). A different plan
/// replaces the current one at once. Pure, so the arithmetic is tested on its own.
pub fn paid_period_end(
    now_ms: i64,
    days: i64,
    current: Option<(PlanId, i64)>,
    plan: PlanId,
) -> i64 {
    let carried = match current {
        Some((current_plan, period_end)) if current_plan == plan => {
            period_end.saturating_sub(now_ms).max(0)
        }
        _ => 0,
    };
    now_ms
        .saturating_add(days.saturating_mul(crate::DAY_MS))
        .saturating_add(carried)
}

/// The period an automatic renewal buys for the period ending `renewed_end`: `days` more
/// from that end, whenever the charge went through — before the end, or during grace after a
/// retry — so a retried renewal renews on the same terms as one on time (the days of grace
/// used are part of the new period, not added to it).
pub fn renewed_period_end(renewed_end: i64, days: i64) -> i64 {
    renewed_end.saturating_add(days.saturating_mul(crate::DAY_MS))
}

/// How long service continues after an unpaid period ends (the subscription is `grace`
/// then), before the account falls back to no plan.
pub const GRACE_MS: i64 = 3 * crate::DAY_MS;

/// When service stops for a period ending at `period_end` that is not paid again:
/// [`GRACE_MS`] later (saturating, never before the period's end).
pub fn grace_until(period_end: i64) -> i64 {
    period_end.saturating_add(GRACE_MS)
}

/// Why a superseded renewal was not activated (kept on the payment, shown to the customer).
pub const SUPERSEDED_REASON: &str = "you switched plans while this renewal was charged: refunded";

/// What a successful payment became.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "returned once per settled payment and taken apart at once; never stored"
)]
pub enum Fulfilled {
    /// The payment started `subscription`. `superseded` is the automatic renewal it replaced,
    /// if that renewal was paid after this payment was started (the customer had chosen the
    /// other plan first): that renewal is now `superseded`, its refund owed.
    Activated {
        /// The payment, `success` and linked to `subscription`.
        payment: Payment,
        /// The period it bought.
        subscription: Subscription,
        /// A renewal refunded because of it.
        superseded: Option<Payment>,
    },
    /// An automatic renewal that settled after its subscription had been replaced: paid,
    /// nothing activated, its refund owed.
    Superseded(Payment),
}

impl Fulfilled {
    /// The payment and the period it bought, when it activated one.
    pub fn activated(self) -> Option<(Payment, Subscription)> {
        match self {
            Fulfilled::Activated {
                payment,
                subscription,
                ..
            } => Some((payment, subscription)),
            Fulfilled::Superseded(_) => None,
        }
    }
}

/// Holds `account`'s billing until the transaction ends, so payments, renewals and checkouts
/// of one account are settled one after the other. PostgreSQL locks the account's row;
/// SQLite runs one writing transaction at a time, and every caller writes first.
async fn hold_account(
    conn: &mut AnyConnection,
    backend: Backend,
    account: AccountId,
) -> Result<()> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT id FROM accounts WHERE id = $1 FOR NO KEY UPDATE")
            .bind(account)
            .fetch_optional(conn)
            .await?;
    }
    Ok(())
}

/// Settles a payment as paid **and** activates what it paid for, in one transaction that
/// holds the account's billing (see [`hold_account`]):
///
/// - the payment becomes `success` — from `pending`, or from `failed`/`abandoned`, since
///   Paystack lets a customer finish a checkout after a declined card or after leaving;
/// - an automatic renewal whose subscription is no longer the live one becomes `superseded`
///   instead, and nothing else changes ([`Fulfilled::Superseded`]);
/// - otherwise the live subscription (if any) is closed and a new active period of the
///   payment's plan starts now ([`paid_period_end`]), with [`GRACE_MS`] of grace, keeping the
///   account's automatic-renewal setting and saving the outcome's card; a renewal of another
///   plan paid after this payment was started is superseded.
///
/// Returns `None` when the payment was settled already (the callback, the webhook and a
/// renewal charge's answer race; exactly one wins), `NotFound` when the reference is unknown.
/// A failure anywhere rolls everything back: a plan is never half-activated.
pub async fn fulfil(
    db: &Db,
    reference: &str,
    outcome: &PaymentOutcome<'_>,
    days: i64,
    now_ms: i64,
) -> Result<Option<Fulfilled>> {
    if outcome.status != PaymentStatus::Success {
        return Err(StoreError::Invalid(
            "only a successful payment activates a plan".to_owned(),
        ));
    }
    if !(1..=366).contains(&days) {
        return Err(StoreError::Invalid(
            "a paid period lasts 1 to 366 days".to_owned(),
        ));
    }
    let Some(recorded) = super::by_reference(db, reference).await? else {
        return Err(StoreError::NotFound);
    };
    let mut tx = db.pool().begin().await?;
    hold_account(&mut tx, db.backend(), recorded.account_id).await?;
    let sql = format!(
        "UPDATE payments SET status = 'success', paystack_transaction_id = $1, channel = $2, \
             paid_at = $3, failure_reason = NULL, updated_at = $4 \
         WHERE reference = $5 AND status IN ('pending', 'failed', 'abandoned') \
         RETURNING {COLUMNS}"
    );
    let Some(payment) = sqlx::query_as::<_, Payment>(&sql)
        .bind(outcome.paystack_transaction_id)
        .bind(outcome.channel)
        .bind(outcome.paid_at)
        .bind(now_ms)
        .bind(reference.trim())
        .fetch_optional(&mut *tx)
        .await?
    else {
        tx.rollback().await?;
        return Ok(None);
    };
    let current = crate::subscriptions::current_in(&mut *tx, payment.account_id, now_ms).await?;
    if let (Some(renewed), Some(current)) = (payment.renewal_of, &current)
        && current.id != renewed
    {
        let superseded = supersede(&mut tx, &payment, now_ms).await?;
        tx.commit().await?;
        return Ok(Some(Fulfilled::Superseded(superseded)));
    }
    let superseded = match &current {
        Some(current) if current.plan_id != payment.plan_id => {
            renewal_paid_since(&mut tx, current, payment.created_at).await?
        }
        _ => None,
    };
    let superseded = match superseded {
        Some(renewal) => Some(supersede(&mut tx, &renewal, now_ms).await?),
        None => None,
    };
    let period_end = match (&current, payment.renewal_period_end) {
        // A renewal of the live subscription continues its period from the end it renews.
        (Some(current), Some(renewed_end)) if payment.renewal_of == Some(current.id) => {
            renewed_period_end(renewed_end, days).max(now_ms)
        }
        _ => paid_period_end(
            now_ms,
            days,
            current.as_ref().map(|c| (c.plan_id, c.period_end)),
            payment.plan_id,
        ),
    };
    // The customer's setting lives on their newest subscription, live or not.
    let auto_renew = sqlx::query_scalar::<_, i64>(
        "SELECT auto_renew FROM subscriptions WHERE account_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(payment.account_id)
    .fetch_optional(&mut *tx)
    .await?
    .unwrap_or(1);
    let authorization = outcome.authorization_code.map(str::to_owned).or_else(|| {
        current
            .as_ref()
            .filter(|c| c.plan_id == payment.plan_id)
            .and_then(|c| c.authorization_code.clone())
    });
    sqlx::query(
        "UPDATE subscriptions SET status = 'cancelled', updated_at = $1 \
         WHERE account_id = $2 AND status IN ('active', 'grace')",
    )
    .bind(now_ms)
    .bind(payment.account_id)
    .execute(&mut *tx)
    .await?;
    let insert = format!(
        "INSERT INTO subscriptions \
             (account_id, plan_id, status, period_start, period_end, grace_until, \
              authorization_code, auto_renew, created_at, updated_at) \
         VALUES ($1, $2, 'active', $3, $4, $5, $6, $7, $3, $3) RETURNING {SUBSCRIPTION_COLUMNS}"
    );
    let subscription = sqlx::query_as::<_, Subscription>(&insert)
        .bind(payment.account_id)
        .bind(payment.plan_id)
        .bind(now_ms)
        .bind(period_end)
        .bind(grace_until(period_end))
        .bind(authorization)
        .bind(auto_renew)
        .fetch_one(&mut *tx)
        .await?;
    let linked =
        format!("UPDATE payments SET subscription_id = $1 WHERE id = $2 RETURNING {COLUMNS}");
    let payment = sqlx::query_as::<_, Payment>(&linked)
        .bind(subscription.id)
        .bind(payment.id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(Fulfilled::Activated {
        payment,
        subscription,
        superseded,
    }))
}

/// The automatic renewal that paid for `current`, if it was paid at or after `since` (while
/// the customer was already paying for another plan).
async fn renewal_paid_since(
    conn: &mut AnyConnection,
    current: &Subscription,
    since: i64,
) -> Result<Option<Payment>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM payments WHERE subscription_id = $1 AND renewal_of IS NOT NULL \
           AND status = 'success' AND paid_at >= $2 ORDER BY id DESC LIMIT 1"
    );
    Ok(sqlx::query_as::<_, Payment>(&sql)
        .bind(current.id)
        .bind(since)
        .fetch_optional(conn)
        .await?)
}

/// Marks a paid renewal `superseded` (its refund owed).
async fn supersede(conn: &mut AnyConnection, payment: &Payment, now_ms: i64) -> Result<Payment> {
    let sql = format!(
        "UPDATE payments SET status = 'superseded', failure_reason = $1, updated_at = $2 \
         WHERE id = $3 RETURNING {COLUMNS}"
    );
    Ok(sqlx::query_as::<_, Payment>(&sql)
        .bind(SUPERSEDED_REASON)
        .bind(now_ms)
        .bind(payment.id)
        .fetch_one(conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DAY_MS;

    #[test]
    fn paid_periods_carry_only_the_same_plans_remaining_time() {
        let now = 1_800_000_000_000;
        let (starter, team) = (PlanId(1), PlanId(3));
        for days in [1, 7, 30, 31, 365] {
            assert_eq!(
                paid_period_end(now, days, None, starter),
                now + days * DAY_MS
            );
            for left_days in [0, 1, 10, 29] {
                let current_end = now + left_days * DAY_MS;
                assert_eq!(
                    paid_period_end(now, days, Some((starter, current_end)), starter),
                    now + (days + left_days) * DAY_MS,
                    "renewal with {left_days} days left"
                );
                assert_eq!(
                    paid_period_end(now, days, Some((starter, current_end)), team),
                    now + days * DAY_MS,
                    "an upgrade starts fresh"
                );
            }
            // A period that already ended (grace) carries nothing, never a negative.
            assert_eq!(
                paid_period_end(now, days, Some((starter, now - 3 * DAY_MS)), starter),
                now + days * DAY_MS
            );
        }
        assert_eq!(
            paid_period_end(i64::MAX - 1, 30, None, starter),
            i64::MAX,
            "no overflow"
        );
    }

    #[test]
    fn a_renewal_continues_from_the_end_it_renews() {
        let end = 1_800_000_000_000;
        // On time (a day before the end) or retried in grace: the same new end.
        assert_eq!(renewed_period_end(end, 30), end + 30 * DAY_MS);
        assert_eq!(
            paid_period_end(end - DAY_MS, 30, Some((PlanId(1), end)), PlanId(1)),
            renewed_period_end(end, 30),
            "as a payment of the same plan before the end"
        );
        assert_eq!(renewed_period_end(i64::MAX - 1, 30), i64::MAX);
    }
}
