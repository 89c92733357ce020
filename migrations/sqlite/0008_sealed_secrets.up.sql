-- Secrets sealed at rest. The proxy password and the TOTP secret are sealed in place (their
-- TEXT columns hold `v1:<key version>:<base64>`); an exit's URL moves to url_sealed, while
-- url keeps it with the password replaced by *** as the exit's unique, displayable identity.
-- SQL cannot encrypt: the service seals existing rows right after the schema migrations and
-- unseals them before this migration is reverted (store/src/secrets.rs).
ALTER TABLE exits ADD COLUMN url_sealed TEXT;
