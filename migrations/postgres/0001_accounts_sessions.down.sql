DROP TABLE IF EXISTS tower_sessions.session;
DROP SCHEMA IF EXISTS tower_sessions;
DROP TABLE IF EXISTS ip_allowlist;
DROP TABLE IF EXISTS proxy_credentials;
DROP TABLE IF EXISTS recovery_codes;
DROP TABLE IF EXISTS accounts;
