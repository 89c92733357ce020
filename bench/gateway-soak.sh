#!/usr/bin/env bash
# Gateway soak: CLIENTS concurrent proxy clients (10,000) over the HTTP and SOCKS5 ports for
# DURATION seconds (600), spread over ACCOUNTS accounts (100) on the internal Unlimited plan
# (no quota or rate limit can trip): long CONNECT and SOCKS5 tunnels trickling bytes, keep-alive
# forward GETs, and tunnels opened and closed (bench/harness/proxybench `soak`, with its own
# loopback origin). The server's RSS, open descriptors and tokio tasks are sampled every
# SAMPLE_SECS into samples.csv and plotted (samples.svg). At the end the server is stopped with
# SIGTERM (which flushes usage) and every account's stored bytes and requests are compared with
# what the clients counted, to the byte. Loopback only; bounded; stops by itself.
#
#   bench/gateway-soak.sh [BINARY]
#   env: CLIENTS (10000)  DURATION (600)  RAMP (60: seconds over which clients start)
#        ACCOUNTS (100)  SAMPLE_SECS (10)  CLIENT_THREADS (1)  OUT (a fresh folder under /tmp)
#
# Each client holds a descriptor in the client process, and two in the server (client side and
# origin side), so CLIENTS × 2 + 512 descriptors are needed per process: the script raises its
# soft limit to the hard limit and stops with a message if that is not enough. BINARY defaults
# to the release `atlantic` under CARGO_TARGET_DIR (`cargo xtask build --release`).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${1:-$TARGET/release/atlantic}"
CLIENTS="${CLIENTS:-10000}"
DURATION="${DURATION:-600}"
RAMP="${RAMP:-60}"
ACCOUNTS="${ACCOUNTS:-100}"
SAMPLE_SECS="${SAMPLE_SECS:-10}"
CLIENT_THREADS="${CLIENT_THREADS:-1}"
HTTP_PORT=18281 SOCKS_PORT=18282 WEB_PORT=18290 ORIGIN_PORT=18480
OUT="${OUT:-$(mktemp -d /tmp/atl-soak.XXXXXX)}"
WORK="$(mktemp -d /tmp/atl-soak-work.XXXXXX)"
CLIENT_TARGET="${BENCH_TARGET_DIR:-$HOME/.cache/atlantic/bench-target}"
mkdir -p "$OUT"

cleanup() {
  # only the processes this script started, by id
  for pid in ${SAMPLER:-} ${CLIENT:-} ${SERVER:-}; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ -x "$BIN" ]] || { echo "no $BIN: run cargo xtask build --release first" >&2; exit 1; }
for tool in sqlite3 python3 cargo curl; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done
NEED=$(( CLIENTS * 2 + 512 ))
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (( $(ulimit -n) < NEED )); then
  echo "$CLIENTS clients need $NEED open files per process (the server holds two per client);" \
       "the limit here is $(ulimit -n) and the hard limit $(ulimit -Hn) cannot be raised" \
       "without CAP_SYS_RESOURCE: run with CLIENTS=$(( ($(ulimit -Hn) - 512) / 2 )) or less" >&2
  exit 1
fi
read -r lo hi < /proc/sys/net/ipv4/ip_local_port_range
if (( hi - lo < CLIENTS + 8000 )); then
  echo "the local port range ($lo-$hi) is too narrow for $CLIENTS clients plus closed tunnels" \
       "in TIME_WAIT: widen net.ipv4.ip_local_port_range" >&2
  exit 1
fi

echo "== building the load client (bench/harness/proxybench)"
(cd "$ROOT/bench/harness/proxybench" && CARGO_TARGET_DIR="$CLIENT_TARGET" cargo build --release --quiet)
CLIENT_BIN="$CLIENT_TARGET/release/proxybench"

export DATABASE_URL="sqlite://$WORK/soak.db"
export ATLANTIC_SITE_ROOT="${ATLANTIC_SITE_ROOT:-$(dirname "$BIN")/site}"
echo "== $ACCOUNTS accounts on the Unlimited plan"
"$BIN" migrate >/dev/null
: > "$WORK/accounts.txt"
add_account() {
  local email="soak$1@example.com" out
  out="$("$BIN" user add --email "$email" --password 'soak-password-123' --plan Unlimited)"
  echo "$email $(sed -n 's/^ *proxy_username=//p' <<<"$out") $(sed -n 's/^ *proxy_password=//p' <<<"$out")"
}
for i in $(seq 0 $((ACCOUNTS - 1))); do add_account "$i" >> "$WORK/accounts.txt"; done
awk 'NF != 3 { bad = 1 } END { exit bad }' "$WORK/accounts.txt" || { echo "user add failed" >&2; cat "$WORK/accounts.txt" >&2; exit 1; }

echo "== starting atlantic (HTTP proxy :$HTTP_PORT, SOCKS5 :$SOCKS_PORT, web :$WEB_PORT)"
ATLANTIC_ALLOW_PRIVATE_DESTINATIONS=1 ATLANTIC_LOG=warn "$BIN" serve \
  --listen "127.0.0.1:$WEB_PORT" --http-proxy "127.0.0.1:$HTTP_PORT" \
  --socks-proxy "127.0.0.1:$SOCKS_PORT" > "$OUT/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$WEB_PORT/ready" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://127.0.0.1:$WEB_PORT/ready" >/dev/null || { cat "$OUT/server.log" >&2; exit 1; }

{
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
  echo "open files: soft $(ulimit -n), hard $(ulimit -Hn); local ports $lo-$hi"
  echo "before: $(uptime)"
  top -bn1 | head -15
} > "$OUT/machine.txt"

sample() {
  local t0 now rss fds tasks threads tw
  t0=$(date +%s)
  echo "t_s,rss_mib,open_fds,tokio_tasks,threads,time_wait,load1" > "$OUT/samples.csv"
  while kill -0 "$SERVER" 2>/dev/null; do
    now=$(date +%s)
    rss=$(awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$SERVER/status" 2>/dev/null || echo "")
    threads=$(awk '/^Threads/ {print $2}' "/proc/$SERVER/status" 2>/dev/null || echo "")
    fds=$(find "/proc/$SERVER/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    tasks=$(curl -s --max-time 5 "http://127.0.0.1:$WEB_PORT/metrics" | awk '/^tokio_alive_tasks/ {print $2}')
    tw=$(( $(ss -tan state time-wait 2>/dev/null | wc -l) - 1 ))
    echo "$((now - t0)),$rss,$fds,${tasks:-},$threads,$tw,$(cut -d' ' -f1 /proc/loadavg)" >> "$OUT/samples.csv"
    sleep "$SAMPLE_SECS"
  done
}
sample &
SAMPLER=$!

echo "== soak: $CLIENTS clients, ${RAMP}s ramp + ${DURATION}s; load: $(cut -d' ' -f1-3 /proc/loadavg)"
timeout --signal=INT $(( RAMP + DURATION + 300 )) \
  "$CLIENT_BIN" soak --http "127.0.0.1:$HTTP_PORT" --socks "127.0.0.1:$SOCKS_PORT" \
    --accounts "$WORK/accounts.txt" --clients "$CLIENTS" --duration "$DURATION" --ramp "$RAMP" \
    --origin-port "$ORIGIN_PORT" --threads "$CLIENT_THREADS" --out "$OUT/client-accounts.jsonl" \
    > "$OUT/client-summary.json" 2> >(tee "$OUT/client.log" >&2) &
CLIENT=$!
status=0
wait "$CLIENT" || status=$?
CLIENT=""
[[ $status = 0 ]] || echo "load client ended with status $status" >&2
echo "after: $(uptime)" >> "$OUT/machine.txt"

# A few quiet samples after the clients left, then a graceful stop: SIGTERM flushes usage.
sleep $(( SAMPLE_SECS * 3 ))
kill -TERM "$SERVER"
wait "$SERVER" || true
SERVER=""
kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; SAMPLER=""

sqlite3 -separator ' ' "$WORK/soak.db" \
  "SELECT a.email, COALESCE(SUM(u.bytes_up), 0), COALESCE(SUM(u.bytes_down), 0),
          COALESCE(SUM(u.requests), 0), COALESCE(SUM(u.errors), 0)
     FROM accounts a LEFT JOIN usage_hourly u ON u.account_id = a.id
    WHERE a.email LIKE 'soak%' GROUP BY a.email" > "$OUT/stored-usage.txt"
python3 "$ROOT/bench/lib/plot_samples.py" "$OUT/samples.csv" "$OUT/samples.svg" \
  "gateway soak: $CLIENTS clients, $((DURATION / 60)) min (after a ${RAMP}s ramp)"
echo "== client summary"
cat "$OUT/client-summary.json"
echo "== metered usage against the clients' counts"
check=0
python3 "$ROOT/bench/lib/soak_check.py" "$OUT/client-accounts.jsonl" "$OUT/stored-usage.txt" \
  "$OUT/samples.csv" || check=$?
echo "results in $OUT"
exit $(( status != 0 || check != 0 ))
