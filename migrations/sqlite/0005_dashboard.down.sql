ALTER TABLE accounts DROP COLUMN quota_warned_period_end;
DROP TABLE usage_sessions_hourly;
