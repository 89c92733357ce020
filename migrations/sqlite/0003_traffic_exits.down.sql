DROP TABLE IF EXISTS activity;
DROP TABLE IF EXISTS usage_errors_hourly;
DROP TABLE IF EXISTS usage_hourly;
DROP TABLE IF EXISTS exits;
