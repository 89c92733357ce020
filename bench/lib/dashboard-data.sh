# shellcheck shell=bash
# Sourced by the dashboard benchmarks: loads ACCOUNTS customer accounts (load0@example.com …)
# with a month of hourly usage, sessions, errors and sign-in activity, as a running service
# would have them, in SQL (one statement per table, a few seconds for 1,000 accounts).
#
#   load_dashboard_data BIN ENGINE ACCOUNTS PASSWORD WORK
#
# BIN: the `atlantic` binary; ENGINE: sqlite or postgres; DATABASE_URL must name the (empty)
# database; WORK: a scratch folder (for SQLite, the database is WORK/bench.db).
load_dashboard_data() {
  local bin="$1" engine="$2" accounts="$3" password="$4" work="$5"
  "$bin" migrate >/dev/null
  "$bin" user add --email load0@example.com --password "$password" --plan Starter >/dev/null
  local now hour
  now=$(( $(date +%s) * 1000 ))
  hour=$(( now - now % 3600000 ))
  cat > "$work/load.sql" <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $((accounts - 1)))
INSERT INTO accounts (email, password_hash, role, created_at, updated_at)
SELECT 'load' || i || '@example.com',
       (SELECT password_hash FROM accounts WHERE email = 'load0@example.com'), 'customer', $now, $now
  FROM n;
INSERT INTO subscriptions (account_id, plan_id, status, period_start, period_end, created_at, updated_at)
SELECT a.id, (SELECT id FROM plans WHERE name = 'Starter'), 'active', $((now - 10 * 86400000)),
       $((now + 20 * 86400000)), $now, $now
  FROM accounts a WHERE a.email <> 'load0@example.com';
WITH RECURSIVE h(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM h WHERE k < 719)
INSERT INTO usage_hourly (account_id, hour_start, exit_id, country, bytes_up, bytes_down, requests, errors)
SELECT a.id, $hour - k * CAST(3600000 AS BIGINT), 0, 'ng', 1000 + (a.id * 7 + k) % 900,
       100000 + ((a.id * 31 + k * 17) % 5000) * 100, 10 + (a.id + k) % 90, (a.id + k) % 3
  FROM accounts a, h;
WITH RECURSIVE h(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM h WHERE k < 719)
INSERT INTO usage_sessions_hourly (account_id, hour_start, session, bytes_up, bytes_down, requests, errors)
SELECT a.id, $hour - k * CAST(3600000 AS BIGINT), 's' || (k % 7), 500, 50000 + (k % 13) * 1000, 5 + k % 20, 0
  FROM accounts a, h;
WITH RECURSIVE h(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM h WHERE k < 719)
INSERT INTO usage_errors_hourly (account_id, hour_start, code, count)
SELECT a.id, $hour - k * CAST(3600000 AS BIGINT), 'upstream_failed', (a.id + k) % 3
  FROM accounts a, h WHERE (a.id + k) % 3 > 0;
WITH RECURSIVE h(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM h WHERE k < 59)
INSERT INTO activity (account_id, kind, detail, ip, created_at)
SELECT a.id, 'sign_in.succeeded', '{"factor":"password"}', '203.0.113.9', $now - k * CAST(43200000 AS BIGINT)
  FROM accounts a, h;
SQL
  # As a running database would be after autovacuum (PostgreSQL) or ANALYZE (SQLite).
  if [[ "$engine" = postgres ]]; then
    echo 'VACUUM ANALYZE;' >> "$work/load.sql"
    psql -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -f "$work/load.sql"
  else
    echo 'ANALYZE;' >> "$work/load.sql"
    sqlite3 "$work/bench.db" < "$work/load.sql"
  fi
}
