#!/usr/bin/env bash
# The gateway against Squid, tinyproxy and Dante, in one run: `atlantic serve` (release, SQLite,
# authentication, metering and the plan limiter on; the benchmark account is on the internal
# Unlimited plan, so the limiter runs but does not trip) measured by bench/harness on its
# HTTP and SOCKS5 ports, then the peers and the direct baseline, then the failover benchmark.
# Loopback only; bounded (REPS × DURATION per level; the harness caps each scenario).
#
#   bench/gateway.sh [BINARY]
#   env: REPS (3)  DURATION (10)  BENCH (bench/harness)  OUT (a fresh folder under /tmp)
#        PEERS ("direct squid-auth tinyproxy-auth dante-auth")  FAILOVER_REQUESTS (2000; 0 skips)
#        SCENARIOS (the harness's comma list; all by default)
#
# BINARY defaults to the release `atlantic` under CARGO_TARGET_DIR (build it first with
# `cargo xtask build --release`). The peers need `apt-get install squid tinyproxy dante-server
# apache2-utils`. Prints the tables `make_table.py` renders, and the failover figures.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${1:-$TARGET/release/atlantic}"
BENCH="${BENCH:-$ROOT/bench/harness}"
REPS="${REPS:-3}"
DURATION="${DURATION:-10}"
PEERS="${PEERS:-direct squid-auth tinyproxy-auth dante-auth}"
OUT="${OUT:-$(mktemp -d /tmp/atl-gw-bench.XXXXXX)}"
SCENARIOS="${SCENARIOS:-tunnel_throughput,forward_get,tunnel_setup,idle_tunnels,auth_reject}"
WORK="$(mktemp -d /tmp/atl-gw-work.XXXXXX)"
HTTP_PORT=18181 SOCKS_PORT=18182 WEB_PORT=18190
# `kill 0` would signal the whole process group (the caller's too): only a running server
trap 'if [[ -n "${SERVER:-}" ]]; then kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null; fi; rm -rf "$WORK"' EXIT

[[ -x "$BIN" ]] || { echo "no $BIN: run cargo xtask build --release first" >&2; exit 1; }
[[ -x "$BENCH/run.sh" ]] || { echo "no harness at $BENCH" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# the harness builds its load client into its own folder, where run.sh looks for it
HARNESS_ENV=(env -u CARGO_TARGET_DIR)

export DATABASE_URL="sqlite://$WORK/bench.db"
export ATLANTIC_SITE_ROOT="${ATLANTIC_SITE_ROOT:-$(dirname "$BIN")/site}"
"$BIN" user add --email bench@example.com --password 'bench-password-123' --plan Unlimited \
  >"$WORK/user.txt"
USER_NAME="$(sed -n 's/^ *proxy_username=//p' "$WORK/user.txt")"
USER_PASS="$(sed -n 's/^ *proxy_password=//p' "$WORK/user.txt")"
[[ -n "$USER_NAME" && -n "$USER_PASS" ]] || { cat "$WORK/user.txt" >&2; exit 1; }

ATLANTIC_ALLOW_PRIVATE_DESTINATIONS=1 ATLANTIC_LOG=warn "$BIN" serve \
  --listen "127.0.0.1:$WEB_PORT" --http-proxy "127.0.0.1:$HTTP_PORT" \
  --socks-proxy "127.0.0.1:$SOCKS_PORT" >"$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$WEB_PORT/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$WEB_PORT/ready" >/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }

echo "[$(date -u +%T)] start; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for proto in http socks5; do
  port=$HTTP_PORT; [[ $proto == socks5 ]] && port=$SOCKS_PORT
  "${HARNESS_ENV[@]}" "$BENCH/run.sh" "$proto://$USER_NAME:$USER_PASS@127.0.0.1:$port" --reps "$REPS" \
    --duration "$DURATION" --scenarios "$SCENARIOS" --pid "$SERVER" --label "atlantic-$proto" \
    --out "$OUT" >/dev/null
done
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""

# shellcheck disable=SC2086 # PEERS is a list
REPS="$REPS" RUN_ARGS="--duration $DURATION --scenarios $SCENARIOS --out $OUT" \
  "${HARNESS_ENV[@]}" "$BENCH/peers.sh" $PEERS >/dev/null
echo "[$(date -u +%T)] peers done; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# shellcheck disable=SC2086
python3 "$BENCH/make_table.py" "$OUT" $PEERS atlantic-http atlantic-socks5

if [[ "${FAILOVER_REQUESTS:-2000}" != 0 ]]; then
  echo
  echo "### failover (proxy/examples/bench_failover.rs)"
  (cd "$ROOT" && cargo run --quiet --release -p proxy --example bench_failover -- \
    --requests "${FAILOVER_REQUESTS:-2000}")
fi
echo "[$(date -u +%T)] done; raw results in $OUT" >&2
