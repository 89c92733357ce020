-- Plans (seeded), subscriptions, Paystack payments and the webhook inbox.

CREATE TABLE plans (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    -- NOCASE: "starter" and "Starter" are the same plan.
    name                TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    price_minor         INTEGER NOT NULL CHECK (price_minor >= 0),
    currency            TEXT    NOT NULL DEFAULT 'NGN',
    requests_per_second INTEGER NOT NULL CHECK (requests_per_second > 0),
    max_connections     INTEGER NOT NULL CHECK (max_connections > 0),
    -- NULL = unlimited.
    bandwidth_bytes     INTEGER CHECK (bandwidth_bytes IS NULL OR bandwidth_bytes >= 0),
    period_days         INTEGER NOT NULL DEFAULT 30 CHECK (period_days > 0),
    for_sale            INTEGER NOT NULL DEFAULT 1 CHECK (for_sale IN (0, 1)),
    paystack_plan_code  TEXT,
    sort_order          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX plans_sort_order_idx ON plans (sort_order);

INSERT INTO plans
    (name, price_minor, currency, requests_per_second, max_connections, bandwidth_bytes,
     period_days, for_sale, sort_order)
VALUES
    ('Starter',        500000, 'NGN',      10,     50,      5000000000, 30, 1, 10),
    ('Personal',      2000000, 'NGN',      50,    200,     25000000000, 30, 1, 20),
    ('Team',         15000000, 'NGN',     500,   1000,    250000000000, 30, 1, 30),
    ('Enterprise',  120000000, 'NGN',   10000,  10000,   2500000000000, 30, 1, 40),
    ('Unlimited',           0, 'NGN', 1000000, 100000,            NULL, 30, 0, 90);

CREATE TABLE subscriptions (
    id                         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id                 INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    plan_id                    INTEGER NOT NULL REFERENCES plans (id),
    status                     TEXT    NOT NULL
                               CHECK (status IN ('active', 'grace', 'expired', 'cancelled')),
    period_start               INTEGER NOT NULL,
    period_end                 INTEGER NOT NULL CHECK (period_end > period_start),
    grace_until                INTEGER,
    cancel_at_period_end       INTEGER NOT NULL DEFAULT 0 CHECK (cancel_at_period_end IN (0, 1)),
    paystack_subscription_code TEXT,
    paystack_email_token       TEXT,
    authorization_code         TEXT,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL
);
CREATE INDEX subscriptions_account_id_idx ON subscriptions (account_id);
CREATE INDEX subscriptions_plan_id_idx ON subscriptions (plan_id);
CREATE INDEX subscriptions_status_period_end_idx ON subscriptions (status, period_end);
-- At most one live subscription per account: grant() replaces, never stacks.
CREATE UNIQUE INDEX subscriptions_one_live_per_account
    ON subscriptions (account_id) WHERE status IN ('active', 'grace');
CREATE UNIQUE INDEX subscriptions_paystack_code_key
    ON subscriptions (paystack_subscription_code) WHERE paystack_subscription_code IS NOT NULL;

CREATE TABLE payments (
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
    updated_at              INTEGER NOT NULL
);
CREATE INDEX payments_account_id_created_at_idx ON payments (account_id, created_at);
CREATE INDEX payments_plan_id_idx ON payments (plan_id);
CREATE INDEX payments_subscription_id_idx ON payments (subscription_id);
-- Sweeps of stale pending payments and the admin list filter by status and age.
CREATE INDEX payments_status_created_at_idx ON payments (status, created_at);

CREATE TABLE webhook_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Idempotency: one row per delivered event, however often Paystack retries it.
    event_key    TEXT    NOT NULL UNIQUE,
    event        TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    received_at  INTEGER NOT NULL,
    processed_at INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT
);
CREATE INDEX webhook_events_processed_at_idx ON webhook_events (processed_at);
CREATE INDEX webhook_events_received_at_idx ON webhook_events (received_at);
