-- Upstream exits, hourly usage counters and the activity log.

CREATE TABLE exits (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL,
    url             TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL CHECK (kind IN ('http', 'socks5')),
    -- ISO 3166-1 alpha-2, lower case.
    country         TEXT    NOT NULL CHECK (length(country) = 2 AND country = lower(country)),
    city            TEXT,
    pool            TEXT    NOT NULL DEFAULT 'default',
    enabled         INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    weight          INTEGER NOT NULL DEFAULT 1 CHECK (weight >= 0),
    health          TEXT    NOT NULL DEFAULT 'unknown'
                    CHECK (health IN ('unknown', 'healthy', 'unhealthy')),
    last_check_at   INTEGER,
    last_latency_ms INTEGER,
    success_count   INTEGER NOT NULL DEFAULT 0,
    failure_count   INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX exits_pool_country_idx ON exits (pool, country);

-- exit_id 0 is direct egress, so it is not a foreign key (and exits can be removed while
-- their history stays). country is '' when unknown, never NULL, as it is part of the key.
CREATE TABLE usage_hourly (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    hour_start INTEGER NOT NULL CHECK (hour_start % 3600000 = 0),
    exit_id    INTEGER NOT NULL DEFAULT 0,
    country    TEXT    NOT NULL DEFAULT '',
    bytes_up   INTEGER NOT NULL DEFAULT 0,
    bytes_down INTEGER NOT NULL DEFAULT 0,
    requests   INTEGER NOT NULL DEFAULT 0,
    errors     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, hour_start, exit_id, country)
) WITHOUT ROWID;
CREATE INDEX usage_hourly_hour_start_idx ON usage_hourly (hour_start);

CREATE TABLE usage_errors_hourly (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    hour_start INTEGER NOT NULL CHECK (hour_start % 3600000 = 0),
    code       TEXT    NOT NULL,
    count      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, hour_start, code)
) WITHOUT ROWID;
CREATE INDEX usage_errors_hourly_hour_start_idx ON usage_errors_hourly (hour_start);

-- account_id is NULL for events without an account (a failed sign-in for an unknown email).
-- ON DELETE CASCADE: an account's log holds its IP addresses and user agents, personal data
-- that should leave with the account rather than linger unattributed.
CREATE TABLE activity (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER REFERENCES accounts (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '{}',
    ip         TEXT,
    user_agent TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX activity_account_id_created_at_idx ON activity (account_id, created_at);
CREATE INDEX activity_created_at_idx ON activity (created_at);
-- The activity page filters by kind within an account.
CREATE INDEX activity_account_id_kind_created_at_idx ON activity (account_id, kind, created_at);
