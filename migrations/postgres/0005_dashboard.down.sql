DROP INDEX IF EXISTS usage_sessions_hourly_account_hour_covering_idx;
DROP INDEX IF EXISTS usage_hourly_account_hour_covering_idx;
ALTER TABLE accounts DROP COLUMN quota_warned_period_end;
DROP TABLE usage_sessions_hourly;
