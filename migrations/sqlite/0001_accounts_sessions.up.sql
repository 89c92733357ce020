-- Accounts, their second factor, proxy credentials and IP allowlists, and the web session table.
-- Types are chosen for sqlx's Any driver: times are INTEGER epoch milliseconds, flags INTEGER 0/1
-- (a BOOLEAN column cannot be decoded through Any on SQLite).

CREATE TABLE accounts (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    email                 TEXT    NOT NULL UNIQUE
                          CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    password_hash         TEXT    NOT NULL,
    role                  TEXT    NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'admin')),
    totp_secret           TEXT,
    totp_enabled          INTEGER NOT NULL DEFAULT 0 CHECK (totp_enabled IN (0, 1)),
    time_zone             TEXT    NOT NULL DEFAULT 'UTC',
    quota_warning_percent INTEGER NOT NULL DEFAULT 80
                          CHECK (quota_warning_percent BETWEEN 0 AND 100),
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
CREATE INDEX accounts_created_at_idx ON accounts (created_at);

CREATE TABLE recovery_codes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash  TEXT    NOT NULL,
    used_at    INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX recovery_codes_account_id_idx ON recovery_codes (account_id);

CREATE TABLE proxy_credentials (
    account_id INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    username   TEXT    NOT NULL UNIQUE
               CHECK (username = lower(username) AND instr(username, '-') = 0
                      AND length(username) BETWEEN 1 AND 64),
    secret     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    rotated_at INTEGER NOT NULL
);

CREATE TABLE ip_allowlist (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    cidr       TEXT    NOT NULL,
    note       TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    -- Also the index for the account_id foreign key (its leading column).
    UNIQUE (account_id, cidr)
);

-- Exactly the table tower-sessions-sqlx-store 0.15's SqliteStore::migrate() creates, so the
-- store works without running its own migration.
CREATE TABLE tower_sessions (
    id          TEXT    PRIMARY KEY NOT NULL,
    data        BLOB    NOT NULL,
    expiry_date INTEGER NOT NULL
);
-- The store's expired-session sweep filters on expiry_date.
CREATE INDEX tower_sessions_expiry_date_idx ON tower_sessions (expiry_date);
