-- Automatic renewal by charging the card saved with the last payment.
-- auto_renew is the customer's setting (carried over to each new period); a payment made by a
-- renewal names the subscription and the period end it renews, and the unique index lets
-- only one attempt be recorded per period, whichever housekeeping run (or restart) gets there
-- first.
ALTER TABLE subscriptions ADD COLUMN auto_renew INTEGER NOT NULL DEFAULT 1
    CHECK (auto_renew IN (0, 1));
ALTER TABLE payments ADD COLUMN renewal_of INTEGER
    REFERENCES subscriptions (id) ON DELETE SET NULL;
ALTER TABLE payments ADD COLUMN renewal_period_end INTEGER;
CREATE UNIQUE INDEX payments_one_renewal_per_period
    ON payments (renewal_of, renewal_period_end) WHERE renewal_of IS NOT NULL;
