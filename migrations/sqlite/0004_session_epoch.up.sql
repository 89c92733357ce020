-- "Sign out everywhere else" and password changes end other sessions by bumping the account's
-- session epoch: a session signed in under an older epoch is no longer accepted.
-- totp_last_step is the last accepted TOTP time step, so a code can be used only once
-- (RFC 6238 §5.2).
ALTER TABLE accounts ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN totp_last_step INTEGER;
