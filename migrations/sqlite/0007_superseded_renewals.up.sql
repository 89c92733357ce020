-- A renewal charge that settles after the customer switched to another plan paid for a period
-- nobody wants any more: it becomes 'superseded' (paid, nothing activated) and is refunded
-- through Paystack; refund_requested_at says the refund was asked for (housekeeping asks
-- again until Paystack takes it), and refund.processed then marks it 'refunded'.
-- SQLite cannot change a CHECK constraint, so payments is rebuilt with the wider one.
CREATE TABLE payments_new (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id              INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    plan_id                 INTEGER NOT NULL REFERENCES plans (id),
    reference               TEXT    NOT NULL UNIQUE,
    amount_minor            INTEGER NOT NULL CHECK (amount_minor >= 0),
    currency                TEXT    NOT NULL DEFAULT 'NGN',
    status                  TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'success', 'failed', 'abandoned',
                                              'mismatch', 'refunded', 'superseded')),
    paystack_transaction_id INTEGER,
    channel                 TEXT,
    paid_at                 INTEGER,
    failure_reason          TEXT,
    subscription_id         INTEGER REFERENCES subscriptions (id) ON DELETE SET NULL,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL,
    renewal_of              INTEGER REFERENCES subscriptions (id) ON DELETE SET NULL,
    renewal_period_end      INTEGER,
    refund_requested_at     INTEGER
);
INSERT INTO payments_new
    (id, account_id, plan_id, reference, amount_minor, currency, status,
     paystack_transaction_id, channel, paid_at, failure_reason, subscription_id, created_at,
     updated_at, renewal_of, renewal_period_end)
SELECT id, account_id, plan_id, reference, amount_minor, currency, status,
       paystack_transaction_id, channel, paid_at, failure_reason, subscription_id, created_at,
       updated_at, renewal_of, renewal_period_end
  FROM payments;
DROP TABLE payments;
ALTER TABLE payments_new RENAME TO payments;
CREATE INDEX payments_account_id_created_at_idx ON payments (account_id, created_at);
CREATE INDEX payments_plan_id_idx ON payments (plan_id);
CREATE INDEX payments_subscription_id_idx ON payments (subscription_id);
CREATE INDEX payments_status_created_at_idx ON payments (status, created_at);
CREATE UNIQUE INDEX payments_one_renewal_per_period
    ON payments (renewal_of, renewal_period_end) WHERE renewal_of IS NOT NULL;
