-- Back to the narrower CHECK: a superseded renewal reads as the successful payment it was.
CREATE TABLE payments_old (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id              INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    plan_id                 INTEGER NOT NULL REFERENCES plans (id),
    reference               TEXT    NOT NULL UNIQUE,
    amount_minor            INTEGER NOT NULL CHECK (amount_minor >= 0),
    currency                TEXT    NOT NULL DEFAULT 'NGN',
    status                  TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'success', 'failed', 'abandoned',
                                              'mismatch', 'refunded')),
    paystack_transaction_id INTEGER,
    channel                 TEXT,
    paid_at                 INTEGER,
    failure_reason          TEXT,
    subscription_id         INTEGER REFERENCES subscriptions (id) ON DELETE SET NULL,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL,
    renewal_of              INTEGER REFERENCES subscriptions (id) ON DELETE SET NULL,
    renewal_period_end      INTEGER
);
INSERT INTO payments_old
    (id, account_id, plan_id, reference, amount_minor, currency, status,
     paystack_transaction_id, channel, paid_at, failure_reason, subscription_id, created_at,
     updated_at, renewal_of, renewal_period_end)
SELECT id, account_id, plan_id, reference, amount_minor, currency,
       CASE status WHEN 'superseded' THEN 'success' ELSE status END,
       paystack_transaction_id, channel, paid_at, failure_reason, subscription_id, created_at,
       updated_at, renewal_of, renewal_period_end
  FROM payments;
DROP TABLE payments;
ALTER TABLE payments_old RENAME TO payments;
CREATE INDEX payments_account_id_created_at_idx ON payments (account_id, created_at);
CREATE INDEX payments_plan_id_idx ON payments (plan_id);
CREATE INDEX payments_subscription_id_idx ON payments (subscription_id);
CREATE INDEX payments_status_created_at_idx ON payments (status, created_at);
CREATE UNIQUE INDEX payments_one_renewal_per_period
    ON payments (renewal_of, renewal_period_end) WHERE renewal_of IS NOT NULL;
