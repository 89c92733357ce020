-- Dunning: a declined automatic renewal is tried again within grace, one day and two days
-- after the period's end. renewal_attempt numbers the attempts of one period (0: the renewal
-- itself, 1 and 2: the retries), and the unique index now lets one attempt be recorded per
-- (subscription, period, attempt), whichever housekeeping run (or restart) gets there first.
-- Proration: credit_minor is the unused part of the plan being left, already taken off
-- amount_minor when a customer switches plans mid-period (0 for everything else).
ALTER TABLE payments ADD COLUMN renewal_attempt BIGINT NOT NULL DEFAULT 0
    CHECK (renewal_attempt BETWEEN 0 AND 2);
ALTER TABLE payments ADD COLUMN credit_minor BIGINT NOT NULL DEFAULT 0
    CHECK (credit_minor >= 0);
DROP INDEX IF EXISTS payments_one_renewal_per_period;
CREATE UNIQUE INDEX payments_one_renewal_per_attempt
    ON payments (renewal_of, renewal_period_end, renewal_attempt) WHERE renewal_of IS NOT NULL;
