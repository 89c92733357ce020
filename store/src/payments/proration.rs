//! Switching plans mid-period: the unused part of what the customer paid for the plan they
//! leave is taken off the price of the plan they switch to, in exact integer minor units
//! (kobo), never a float. The terms, as the Billing page states them:
//!
//! - the credit is what was paid for the current period × the share of that period not used
//!   yet, rounded down to the kobo ([`unused_credit`]): it never exceeds what was paid and is
//!   never negative;
//! - it is taken off the new plan's price, but the customer always pays at least Paystack's
//!   smallest charge ([`MIN_CHARGE_MINOR`]); credit beyond that is not paid out
//!   ([`apply_credit`]);
//! - a period that has ended (grace), a period granted without a payment, a payment in another
//!   currency and a renewal of the same plan (whose remaining time carries over instead, see
//!   [`super::paid_period_end`]) give no credit.
//!
//! The credit is worked out when the checkout starts, recorded on the payment
//! (`credit_minor`, with `amount_minor` already reduced) and is what Paystack is asked for.

use crate::plans::Plan;
use crate::{AccountId, Db, Result};

/// Paystack's smallest charge in naira, ₦50.00, in kobo: a checkout never asks for less.
pub const MIN_CHARGE_MINOR: i64 = 5_000;

/// What the unused part of a paid period is worth at `now_ms`: `paid_minor` × the time left
/// of `period_start..period_end` / its length, rounded down. 0 for an empty or inverted
/// period, a negative payment, before nothing is left; never more than `paid_minor`.
pub fn unused_credit(paid_minor: i64, period_start: i64, period_end: i64, now_ms: i64) -> i64 {
    let length = i128::from(period_end) - i128::from(period_start);
    if length <= 0 || paid_minor <= 0 {
        return 0;
    }
    let left = (i128::from(period_end) - i128::from(now_ms)).clamp(0, length);
    // paid × left ≤ i64::MAX × length, exact in i128; the quotient is ≤ paid.
    i64::try_from(i128::from(paid_minor) * left / length).unwrap_or(0)
}

/// A checkout's price with a credit taken off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Prorated {
    /// The plan's price.
    pub price_minor: i64,
    /// The part of the credit used: `price_minor - amount_minor`.
    pub credit_minor: i64,
    /// What the customer pays (and Paystack is asked for).
    pub amount_minor: i64,
}

impl Prorated {
    /// The full price, no credit.
    pub fn full(price_minor: i64) -> Prorated {
        Prorated {
            price_minor,
            credit_minor: 0,
            amount_minor: price_minor,
        }
    }
}

/// Takes `credit_minor` off `price_minor`, leaving at least `min_charge_minor` to pay (or the
/// whole price, when it is below that minimum). A negative credit counts as none.
pub fn apply_credit(price_minor: i64, credit_minor: i64, min_charge_minor: i64) -> Prorated {
    let price = price_minor.max(0);
    let least = min_charge_minor.clamp(0, price);
    let credit = credit_minor.clamp(0, price - least);
    Prorated {
        price_minor: price,
        credit_minor: credit,
        amount_minor: price - credit,
    }
}

/// What switching `account` to `plan` costs at `now_ms`: the plan's price less the unused
/// part of the live period of another plan, by the terms above.
pub async fn for_switch(db: &Db, account: AccountId, plan: &Plan, now_ms: i64) -> Result<Prorated> {
    let Some(current) = crate::subscriptions::current(db, account, now_ms).await? else {
        return Ok(Prorated::full(plan.price_minor));
    };
    if current.plan_id == plan.id || current.period_end <= now_ms {
        return Ok(Prorated::full(plan.price_minor));
    }
    let paid = sqlx::query_as::<_, (i64, String)>(
        "SELECT amount_minor, currency FROM payments \
         WHERE subscription_id = $1 AND status = 'success' ORDER BY id DESC LIMIT 1",
    )
    .bind(current.id)
    .fetch_optional(db.pool())
    .await?;
    let credit = match paid {
        Some((amount, currency)) if currency.eq_ignore_ascii_case(&plan.currency) => {
            unused_credit(amount, current.period_start, current.period_end, now_ms)
        }
        _ => 0,
    };
    Ok(apply_credit(plan.price_minor, credit, MIN_CHARGE_MINOR))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::DAY_MS;

    #[test]
    fn a_half_used_period_is_worth_half_rounded_down() {
        let start = 1_800_000_000_000;
        let end = start + 30 * DAY_MS;
        assert_eq!(unused_credit(500_000, start, end, start), 500_000);
        assert_eq!(
            unused_credit(500_000, start, end, start + 15 * DAY_MS),
            250_000
        );
        assert_eq!(unused_credit(500_000, start, end, end), 0);
        assert_eq!(unused_credit(500_000, start, end, end + DAY_MS), 0);
        // 1 kobo over 3 ms, 1 ms used: two thirds of a kobo is 0.
        assert_eq!(unused_credit(1, 0, 3, 1), 0);
        assert_eq!(unused_credit(500_000, end, start, start), 0, "inverted");
        assert_eq!(
            apply_credit(1_500_000, 250_000, MIN_CHARGE_MINOR),
            Prorated {
                price_minor: 1_500_000,
                credit_minor: 250_000,
                amount_minor: 1_250_000
            }
        );
        assert_eq!(
            apply_credit(500_000, 1_400_000, MIN_CHARGE_MINOR).amount_minor,
            MIN_CHARGE_MINOR,
            "a downgrade with a large credit still pays the minimum"
        );
        assert_eq!(
            apply_credit(3_000, 10_000, MIN_CHARGE_MINOR).amount_minor,
            3_000
        );
    }

    proptest! {
        #[test]
        fn credit_is_never_negative_nor_more_than_was_paid(
            paid in 0..i64::MAX,
            start in -1_000_000_000_000_000_i64..1_000_000_000_000_000,
            length in 0..400 * DAY_MS,
            at in -500 * DAY_MS..500 * DAY_MS,
        ) {
            let credit = unused_credit(paid, start, start + length, start + at);
            prop_assert!((0..=paid).contains(&credit));
            if at <= 0 && length > 0 {
                prop_assert_eq!(credit, paid, "nothing used: everything back");
            }
            if at >= length {
                prop_assert_eq!(credit, 0, "all used: nothing back");
            }
        }

        #[test]
        fn more_time_left_is_never_worth_less(
            paid in 0..10_000_000_000_i64,
            length in 1..400 * DAY_MS,
            a in 0..400 * DAY_MS,
            b in 0..400 * DAY_MS,
        ) {
            let (earlier, later) = (a.min(b), a.max(b));
            prop_assert!(
                unused_credit(paid, 0, length, earlier) >= unused_credit(paid, 0, length, later)
            );
        }

        #[test]
        fn used_and_unused_parts_add_up_to_the_payment_within_a_kobo(
            paid in 0..10_000_000_000_i64,
            length in 1..400 * DAY_MS,
            at in 0..400 * DAY_MS,
        ) {
            let at = at.min(length);
            let unused = unused_credit(paid, 0, length, at);
            // The used part, rounded down the same way from the other side.
            let used = unused_credit(paid, 0, length, length - at);
            prop_assert!(used + unused <= paid);
            prop_assert!(paid - (used + unused) <= 1, "{used} + {unused} vs {paid}");
        }

        #[test]
        fn the_checkout_sums_exactly_and_pays_at_least_the_minimum(
            price in 0..100_000_000_i64,
            credit in proptest::num::i64::ANY,
            minimum in 0..10_000_i64,
        ) {
            let p = apply_credit(price, credit, minimum);
            prop_assert_eq!(p.price_minor, price);
            prop_assert_eq!(p.amount_minor + p.credit_minor, p.price_minor, "exact sum");
            prop_assert!(p.credit_minor >= 0 && p.credit_minor <= credit.max(0));
            prop_assert!(p.amount_minor >= minimum.min(price), "never below the minimum");
            prop_assert!(p.amount_minor <= price);
        }
    }
}
