#!/usr/bin/env bash
# Dashboard speed: server render time of each page at p50/p99 under 100 concurrent signed-in
# users, with a month of hourly usage for 1,000 accounts loaded, and the compressed size of a
# first page load. Loopback only; bounded (each page is loaded for DURATION seconds).
#
#   bench/dashboard.sh sqlite|postgres [BINARY]
#
# BINARY defaults to the release `atlantic` under CARGO_TARGET_DIR (build it first with
# `cargo xtask build --release`). Needs wrk, curl, sqlite3 or psql.
set -euo pipefail
ENGINE="${1:?usage: bench/dashboard.sh sqlite|postgres [BINARY]}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${2:-$TARGET/release/atlantic}"
# the site `cargo xtask build` writes next to the binary (target/release/site)
SITE="${ATLANTIC_SITE_ROOT:-$(dirname "$BIN")/site}"
ACCOUNTS="${ACCOUNTS:-1000}"
USERS="${USERS:-100}"
DURATION="${DURATION:-10}"
PORT="${PORT:-18390}"
PG_ADMIN="${ATLANTIC_TEST_POSTGRES_URL:-postgres://root@127.0.0.1:5432/test}"
PASSWORD="load-test-password-42"
WORK="$(mktemp -d /tmp/atl-dash-bench.XXXXXX)"
BASE="http://127.0.0.1:$PORT"
# `kill 0` would signal the whole process group (the caller's too): only a running server
cleanup() {
  if [[ -n "${SERVER:-}" ]]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  if [[ "$ENGINE" = postgres ]]; then
    psql -q "$PG_ADMIN" -c 'DROP DATABASE IF EXISTS atl_dash_bench' >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

[[ -x "$BIN" ]] || { echo "no $BIN: run cargo xtask build --release first" >&2; exit 1; }
[[ -f "$SITE/assets.json" ]] || { echo "no site at $SITE: run cargo xtask build --release first" >&2; exit 1; }
for tool in wrk curl; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install $tool)" >&2; exit 1; }
done

case "$ENGINE" in
  sqlite) DB="sqlite://$WORK/bench.db" ;;
  postgres)
    DB="${PG_ADMIN%/*}/atl_dash_bench"
    psql -q "$PG_ADMIN" -c 'DROP DATABASE IF EXISTS atl_dash_bench' -c 'CREATE DATABASE atl_dash_bench' ;;
  *) echo "engine is sqlite or postgres" >&2; exit 2 ;;
esac
export DATABASE_URL="$DB"

echo "== loading $ACCOUNTS accounts with 30 days of hourly usage ($ENGINE)"
# shellcheck source=bench/lib/dashboard-data.sh
source "$ROOT/bench/lib/dashboard-data.sh"
started=$(date +%s)
load_dashboard_data "$BIN" "$ENGINE" "$ACCOUNTS" "$PASSWORD" "$WORK"
echo "   loaded in $(( $(date +%s) - started )) s"

echo "== starting atlantic on $BASE"
ATLANTIC_TRUSTED_PROXIES=127.0.0.1/32 ATLANTIC_LOG=warn ATLANTIC_SITE_ROOT="$SITE" \
  "$BIN" serve --listen "127.0.0.1:$PORT" --http-proxy 127.0.0.1:0 --socks-proxy 127.0.0.1:0 \
  > "$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -sf "$BASE/ready" >/dev/null && break; sleep 0.2; done
curl -sf "$BASE/ready" >/dev/null || { cat "$WORK/server.log" >&2; exit 1; }

echo "== signing in $USERS users"
: > "$WORK/cookies"
for i in $(seq 0 $((USERS - 1))); do
  curl -s -o /dev/null -D "$WORK/h" -X POST -H "Origin: $BASE" \
    -H "X-Forwarded-For: 10.77.$((i / 200)).$((i % 200 + 1))" \
    --data-urlencode "email=load$i@example.com" --data-urlencode "password=$PASSWORD" "$BASE/login"
  grep -i '^set-cookie: atlantic_session=' "$WORK/h" | sed 's/^[Ss]et-[Cc]ookie: //; s/;.*//' | tr -d '\r' >> "$WORK/cookies"
done
[ "$(wc -l < "$WORK/cookies")" -eq "$USERS" ] || { echo "sign-in failed" >&2; exit 1; }
cat > "$WORK/users.lua" <<'LUA'
local cookies = {}
for line in io.lines(os.getenv("COOKIES")) do cookies[#cookies + 1] = line end
local n = 0
local think = tonumber(os.getenv("THINK_MS") or "0")
if think > 0 then
  -- Each connection is a user who loads a page, reads it, loads the next one: on average one
  -- page every `think` ms, at random moments, so the users do not click in step.
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
  delay = function() return math.random(0, 2 * think) end
end
request = function()
  n = n + 1
  return wrk.format("GET", nil, { ["Cookie"] = cookies[(n % #cookies) + 1], ["Accept-Encoding"] = "br, gzip" })
end
LUA

for think in 0 1000; do
  if [ "$think" = 0 ]; then
    echo "== saturation: $USERS connections, each a signed-in user, back to back, $DURATION s per page"
  else
    echo "== paced: $USERS signed-in users, each loading a page every $think ms, $DURATION s per page"
  fi
  printf '| page | requests/s | p50 | p99 | non-2xx |\n|---|---|---|---|---|\n'
  for page in / /servers /usage /activity /settings /billing; do
    status=$(curl -s -o "$WORK/page.html" -w '%{http_code}' -H "Cookie: $(head -1 "$WORK/cookies")" "$BASE$page")
    [ "$status" = 200 ] || { echo "$page answered $status" >&2; exit 1; }
    out=$(THINK_MS=$think COOKIES="$WORK/cookies" wrk -t2 -c"$USERS" -d"${DURATION}s" --latency -s "$WORK/users.lua" "$BASE$page")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    printf '| `%s` | %s | %s | %s | %s |\n' "$page" "$rps" "$p50" "$p99" "${bad:-0}"
  done
done

echo "== first load of / (compressed bytes over the wire, br)"
curl -s -H "Cookie: $(head -1 "$WORK/cookies")" "$BASE/" > "$WORK/index.html"
total=0
size() { curl -s -o /dev/null --compressed -H 'Accept-Encoding: br, gzip' -H "Cookie: $(head -1 "$WORK/cookies")" -w '%{size_download}' "$BASE$1"; }
for path in / $( (grep -o '/pkg/[^"]*\.\(css\|js\|wasm\)' "$WORK/index.html"; grep -o '/pkg/[^"'"'"']*_bg\.wasm' "$WORK/index.html") | sort -u); do
  bytes=$(size "$path"); total=$((total + bytes))
  printf '%-48s %8d B\n' "$path" "$bytes"
done
printf '%-48s %8d B\n' "total" "$total"
