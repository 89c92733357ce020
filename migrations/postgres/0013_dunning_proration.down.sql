-- Retries are kept as payments but no longer count as renewal attempts, so the one-attempt-
-- per-period index can be built again.
DROP INDEX IF EXISTS payments_one_renewal_per_attempt;
UPDATE payments SET renewal_of = NULL, renewal_period_end = NULL WHERE renewal_attempt > 0;
CREATE UNIQUE INDEX payments_one_renewal_per_period
    ON payments (renewal_of, renewal_period_end) WHERE renewal_of IS NOT NULL;
ALTER TABLE payments DROP COLUMN credit_minor;
ALTER TABLE payments DROP COLUMN renewal_attempt;
