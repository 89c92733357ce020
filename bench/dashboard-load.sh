#!/usr/bin/env bash
# Dashboard under load on PostgreSQL: USERS signed-in people (1,000), each holding the live
# /ws/live socket and loading a page every 5–10 s (the six pages, the usage CSV, the
# preferences form), measured for FIRST_SECS; then the saturation ramp (RAMP users per step,
# STEP_SECS each) until page p99 passes 100 ms or an error appears, with the server profiled
# (perf, cpu-clock samples) during each window. The load client is bench/harness/dashload
# (Rust, reqwest + tokio-tungstenite). Loopback only; bounded; stops by itself; drops its
# database and stops its processes on exit.
#
#   bench/dashboard-load.sh [BINARY]
#   env: USERS (1000)  ACCOUNTS (1000)  FIRST_SECS (120)  RAMP ("1500,2000,2500,3000,4000,5000";
#        empty: no ramp)  STEP_SECS (60)  PORT (18391)  PROFILE (1: perf during ramp windows)
#        CLIENT_THREADS (1)  OUT (a fresh folder under /tmp: results, kept)
#        PG_SET (none; e.g. "synchronous_commit=off": a setting for the bench database only, to
#        tell commit waits from the rest)
#        ATLANTIC_TEST_POSTGRES_URL (postgres://root@127.0.0.1:5432/test: an admin connection)
#
# BINARY defaults to the release `atlantic` under CARGO_TARGET_DIR (build it first with
# `cargo xtask build --release`). Needs psql, python3, cargo; perf (linux-perf) to profile.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${1:-$TARGET/release/atlantic}"
SITE="${ATLANTIC_SITE_ROOT:-$(dirname "$BIN")/site}"
USERS="${USERS:-1000}"
ACCOUNTS="${ACCOUNTS:-1000}"
FIRST_SECS="${FIRST_SECS:-120}"
RAMP="${RAMP-1500,2000,2500,3000,4000,5000}"
STEP_SECS="${STEP_SECS:-60}"
PORT="${PORT:-18391}"
PROFILE="${PROFILE:-1}"
CLIENT_THREADS="${CLIENT_THREADS:-1}"
PG_ADMIN="${ATLANTIC_TEST_POSTGRES_URL:-postgres://root@127.0.0.1:5432/test}"
PASSWORD="load-test-password-42"
DBNAME="atl_dash_load_$$"
OUT="${OUT:-$(mktemp -d /tmp/atl-dashload.XXXXXX)}"
WORK="$(mktemp -d /tmp/atl-dashload-work.XXXXXX)"
BASE="http://127.0.0.1:$PORT"
CLIENT_TARGET="${BENCH_TARGET_DIR:-$HOME/.cache/atlantic/bench-target}"
mkdir -p "$OUT"

cleanup() {
  # only the processes this script started, by id
  if [[ -n "${CLIENT:-}" ]]; then kill "$CLIENT" 2>/dev/null || true; wait "$CLIENT" 2>/dev/null || true; fi
  if [[ -n "${SERVER:-}" ]]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $DBNAME" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ -x "$BIN" ]] || { echo "no $BIN: run cargo xtask build --release first" >&2; exit 1; }
[[ -f "$SITE/assets.json" ]] || { echo "no site at $SITE: run cargo xtask build --release first" >&2; exit 1; }
for tool in psql python3 cargo curl; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done
psql -q "$PG_ADMIN" -c 'SELECT 1' >/dev/null || { echo "PostgreSQL is not reachable at $PG_ADMIN" >&2; exit 1; }
if [[ "$PROFILE" = 1 ]] && ! perf record -e cpu-clock -o /dev/null -- true >/dev/null 2>&1; then
  echo "perf cannot sample here (apt-get install linux-perf, or PROFILE=0)" >&2; exit 1
fi

# Every user holds two connections (the live socket and one for pages), on both sides.
MAX_USERS="$USERS"
for n in ${RAMP//,/ }; do (( n > MAX_USERS )) && MAX_USERS=$n; done
NEED=$(( MAX_USERS * 2 + 512 ))
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (( $(ulimit -n) < NEED )); then
  echo "$MAX_USERS users need $NEED file descriptors per process; the limit here is $(ulimit -n)" \
       "(hard $(ulimit -Hn)): lower USERS/RAMP or raise the hard limit" >&2
  exit 1
fi

echo "== building the load client (bench/harness/dashload)"
(cd "$ROOT/bench/harness/dashload" && CARGO_TARGET_DIR="$CLIENT_TARGET" cargo build --release --quiet)
CLIENT_BIN="$CLIENT_TARGET/release/dashload"

echo "== loading $ACCOUNTS accounts with 30 days of hourly usage (PostgreSQL, database $DBNAME)"
psql -q "$PG_ADMIN" -c "CREATE DATABASE $DBNAME"
export DATABASE_URL="${PG_ADMIN%/*}/$DBNAME"
if [[ -n "${PG_SET:-}" ]]; then
  psql -q "$PG_ADMIN" -c "ALTER DATABASE $DBNAME SET ${PG_SET%%=*} = '${PG_SET#*=}'"
fi
# shellcheck source=bench/lib/dashboard-data.sh
source "$ROOT/bench/lib/dashboard-data.sh"
started=$(date +%s)
load_dashboard_data "$BIN" postgres "$ACCOUNTS" "$PASSWORD" "$WORK"
echo "   loaded in $(( $(date +%s) - started )) s"

echo "== starting atlantic on $BASE"
ATLANTIC_LOG=warn ATLANTIC_SITE_ROOT="$SITE" \
  "$BIN" serve --listen "127.0.0.1:$PORT" --http-proxy 127.0.0.1:0 --socks-proxy 127.0.0.1:0 \
  > "$OUT/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -sf "$BASE/ready" >/dev/null && break; sleep 0.2; done
curl -sf "$BASE/ready" >/dev/null || { cat "$OUT/server.log" >&2; exit 1; }

HOOK=""
if [[ "$PROFILE" = 1 ]]; then
  # Each window is profiled on its own.
  HOOK="exec perf record -e cpu-clock -F 499 -g -p $SERVER -o $OUT/perf-\$USERS.data -- sleep \$SECS >/dev/null 2>&1"
fi
STEPS="$USERS${RAMP:+,$RAMP}"
{
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
  echo "before: $(uptime)"
  top -bn1 | head -15
} > "$OUT/machine.txt"
echo "== $STEPS users (first window ${FIRST_SECS}s, then ${STEP_SECS}s each); load: $(cut -d' ' -f1-3 /proc/loadavg)"
# Bounded: every step's sign-ins are capped at 900 s inside the client; this caps the whole run.
n_steps=$(tr ',' '\n' <<<"$STEPS" | wc -l)
timeout --signal=INT $(( (FIRST_SECS + n_steps * (STEP_SECS + 120) + 300) )) \
  "$CLIENT_BIN" --base "$BASE" --steps "$STEPS" --first-secs "$FIRST_SECS" --step-secs "$STEP_SECS" \
    --accounts "$ACCOUNTS" --password "$PASSWORD" --threads "$CLIENT_THREADS" --window-hook "$HOOK" \
    > "$OUT/steps.jsonl" 2> "$OUT/client.log" &
CLIENT=$!
wait "$CLIENT" || echo "load client ended with status $? (see $OUT/client.log)" >&2
CLIENT=""
echo "after: $(uptime)" >> "$OUT/machine.txt"
cat "$OUT/client.log" >&2

python3 "$ROOT/bench/lib/dashload_table.py" "$OUT/steps.jsonl"
if [[ "$PROFILE" = 1 ]]; then
  # The last window's perf may still be writing its file: wait until it reads back whole.
  last=$(ls -t "$OUT"/perf-*.data 2>/dev/null | head -1 || true)
  for _ in $(seq 1 30); do
    [[ -z "$last" ]] || perf report -i "$last" --stdio --header-only >/dev/null 2>&1 && break
    sleep 1
  done
  if [[ -n "$last" ]]; then
    echo
    echo "== where the time goes at $(basename "$last" .data | cut -d- -f2) users (server, perf cpu-clock)"
    perf report -i "$last" --no-children --sort dso,sym --stdio 2>/dev/null > "${last%.data}.txt" || true
    python3 "$ROOT/bench/lib/perf_owners.py" "$last"
  fi
fi
echo "results in $OUT"
