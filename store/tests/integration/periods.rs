//! Properties of the period arithmetic, over arbitrary timestamps: what a payment buys
//! ([`payments::paid_period_end`]) and how long grace lasts ([`payments::grace_until`]).

use proptest::prelude::*;
use store::payments::{self, GRACE_MS, paid_period_end};
use store::{DAY_MS, PlanId};

/// Epoch milliseconds from 1970 to about the year 5000: far beyond any real period.
fn instant() -> impl Strategy<Value = i64> {
    0..100_000_000_000_000i64
}

/// A live period's end relative to now: up to a year ahead, or already over (grace).
fn offset() -> impl Strategy<Value = i64> {
    -40 * DAY_MS..366 * DAY_MS
}

const PERIOD_DAYS: i64 = 30;
const PERIOD_MS: i64 = PERIOD_DAYS * DAY_MS;

proptest! {
    #[test]
    fn a_renewal_of_the_same_plan_adds_a_full_period_to_what_is_left(
        now in instant(),
        offset in offset(),
        plan in 1..10i64,
    ) {
        let current_end = now + offset;
        let end = paid_period_end(now, PERIOD_DAYS, Some((PlanId(plan), current_end)), PlanId(plan));
        let remaining = (current_end - now).max(0);
        prop_assert!(end - now >= PERIOD_MS, "never shorter than a period");
        prop_assert!(end - now <= remaining + PERIOD_MS, "never longer than what is left plus a period");
        prop_assert_eq!(end, now + remaining + PERIOD_MS);
        // Renewing before the end never loses time; renewing in grace starts from now.
        prop_assert!(end >= current_end + PERIOD_MS || current_end < now);
    }

    #[test]
    fn another_plan_or_none_starts_a_full_period_now(
        now in instant(),
        offset in offset(),
        current_plan in 1..10i64,
        plan in 1..10i64,
    ) {
        prop_assume!(current_plan != plan);
        let current = Some((PlanId(current_plan), now + offset));
        prop_assert_eq!(paid_period_end(now, PERIOD_DAYS, current, PlanId(plan)), now + PERIOD_MS);
        prop_assert_eq!(paid_period_end(now, PERIOD_DAYS, None, PlanId(plan)), now + PERIOD_MS);
    }

    #[test]
    fn any_length_of_period_is_exact_and_never_overflows(
        now in any::<i64>(),
        days in 1..=366i64,
        current_end in any::<i64>(),
    ) {
        let end = paid_period_end(now, days, Some((PlanId(1), current_end)), PlanId(1));
        prop_assert!(end >= now, "an end before the start");
        if let Some(exact) = now
            .checked_add(days * DAY_MS)
            .and_then(|e| e.checked_add(current_end.saturating_sub(now).max(0)))
        {
            prop_assert_eq!(end, exact);
        } else {
            prop_assert_eq!(end, i64::MAX, "saturates instead of wrapping");
        }
    }

    #[test]
    fn grace_is_three_days_after_the_period_and_never_before_it(period_end in any::<i64>()) {
        let grace = payments::grace_until(period_end);
        prop_assert!(grace >= period_end);
        if period_end <= i64::MAX - GRACE_MS {
            prop_assert_eq!(grace - period_end, 3 * DAY_MS);
        } else {
            prop_assert_eq!(grace, i64::MAX);
        }
    }

    #[test]
    fn later_payments_never_end_earlier(
        now in instant(),
        step in 0..(60 * DAY_MS),
        offset in offset(),
    ) {
        // The same current period, paid at two moments: the later never ends sooner.
        let current = Some((PlanId(1), now + offset));
        let early = paid_period_end(now, PERIOD_DAYS, current, PlanId(1));
        let late = paid_period_end(now + step, PERIOD_DAYS, current, PlanId(1));
        prop_assert!(late >= early);
    }
}
