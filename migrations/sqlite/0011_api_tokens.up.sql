-- Personal access tokens for the public REST API (`/api/v1`). Only the SHA-256 of a token's
-- value is kept (the value is 32 random bytes, shown once); `last4` is its last four
-- characters, for telling tokens apart in Settings. A token works while it is not revoked
-- and not past `expires_at` (NULL: no expiry).
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    scope        TEXT    NOT NULL CHECK (scope IN ('read', 'read_write')),
    token_hash   TEXT    NOT NULL UNIQUE CHECK (length(token_hash) = 64),
    last4        TEXT    NOT NULL CHECK (length(last4) = 4),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_tokens_account_id_idx ON api_tokens (account_id);
