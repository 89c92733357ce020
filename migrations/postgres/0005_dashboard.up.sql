-- The dashboard: usage per sticky session, and the quota warning sent once per period.

-- Bytes and requests per (account, hour, sticky session id). Traffic without a session id is
-- not here (usage_hourly has it all); the gateway keeps at most a bounded number of session
-- ids per account per flush, the rest count under usage_hourly only.
CREATE TABLE usage_sessions_hourly (
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    hour_start BIGINT NOT NULL CHECK (hour_start % 3600000 = 0),
    session    TEXT    NOT NULL CHECK (length(session) BETWEEN 1 AND 32),
    bytes_up   BIGINT NOT NULL DEFAULT 0,
    bytes_down BIGINT NOT NULL DEFAULT 0,
    requests   BIGINT NOT NULL DEFAULT 0,
    errors     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, hour_start, session)
);
CREATE INDEX usage_sessions_hourly_hour_start_idx ON usage_sessions_hourly (hour_start);

-- The period (by its end) for which the quota warning was last recorded.
ALTER TABLE accounts ADD COLUMN quota_warned_period_end BIGINT;

-- The dashboard reads an account's hours in a range and sums them: with the counters in the
-- index, PostgreSQL answers from the index alone instead of visiting one heap page per hour
-- (rows are written hour by hour for every account, so an account's rows are scattered).
-- SQLite's WITHOUT ROWID tables are already clustered by (account_id, hour_start).
CREATE INDEX usage_hourly_account_hour_covering_idx ON usage_hourly (account_id, hour_start)
    INCLUDE (exit_id, country, bytes_up, bytes_down, requests, errors);
CREATE INDEX usage_sessions_hourly_account_hour_covering_idx
    ON usage_sessions_hourly (account_id, hour_start) INCLUDE (session, bytes_up, bytes_down, requests, errors);
