#!/usr/bin/env bash
# The gateway in a cluster, by bench/harness's load client (forward GET, keep-alive, c=64):
#   alone     one `atlantic serve` (role all) without Redis
#   redis     the same binary with ATLANTIC_REDIS_URL (one node; its limits live in Redis)
#   three     two gateway processes and a web node on PostgreSQL and Redis, the load split
#             evenly over both gateways (c=32 each, at once)
# `alone` and `redis` alternate REPS times in one run; `three` follows. Each configuration gets
# a fresh PostgreSQL database and its own Redis key prefix. Loopback only; bounded.
#
#   bench/cluster.sh [BINARY]
#   env: REPS (3)  DURATION (5)  PG_ADMIN (postgres://root@127.0.0.1:5432/test)
#        REDIS (redis://127.0.0.1:6379)  OUT (a fresh folder under /tmp)
#
# BINARY defaults to the release `atlantic` under CARGO_TARGET_DIR. Prints one line per
# measurement and the medians.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${1:-$TARGET/release/atlantic}"
REPS="${REPS:-3}"
DURATION="${DURATION:-5}"
PG_ADMIN="${PG_ADMIN:-postgres://root@127.0.0.1:5432/test}"
REDIS="${REDIS:-redis://127.0.0.1:6379}"
OUT="${OUT:-$(mktemp -d /tmp/atl-cluster-bench.XXXXXX)}"
PB="$ROOT/bench/harness/proxybench/target/release/proxybench"
WORK="$(mktemp -d /tmp/atl-cluster-work.XXXXXX)"
ORIGIN_PORT=18280
PIDS=()
# the databases made, one per line (fresh_db runs in a subshell: a variable would be lost)
DBS="$WORK/databases"
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  while read -r db; do
    psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  done <"$DBS"
  redis-cli -u "$REDIS" --scan --pattern 'bench_*' | xargs -r redis-cli -u "$REDIS" del >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

[[ -x "$BIN" ]] || { echo "no $BIN: run cargo xtask build --release first" >&2; exit 1; }
(cd "$ROOT/bench/harness/proxybench" && env -u CARGO_TARGET_DIR cargo build --release -q)
touch "$DBS"
mkdir -p "$WORK/site/pkg"
echo '{"output_name":"bench","css":"bench.css","echarts":"echarts.min.js"}' >"$WORK/site/assets.json"
echo 'body{}' >"$WORK/site/pkg/bench.css"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

"$PB" origin --listen "127.0.0.1:$ORIGIN_PORT" --threads 1 >"$WORK/origin.log" 2>&1 &
PIDS+=($!)

# a fresh database with the benchmark customer; prints its URL, credentials in $WORK/user.txt
fresh_db() {
  local name="atl_bench_$RANDOM$RANDOM"
  psql "$PG_ADMIN" -qc "CREATE DATABASE $name" >/dev/null
  echo "$name" >>"$DBS"
  local url="${PG_ADMIN%/*}/$name"
  DATABASE_URL="$url" ATLANTIC_SITE_ROOT="$WORK/site" "$BIN" user add --email bench@example.com \
    --password 'bench-password-123' --plan Unlimited >"$WORK/user.txt"
  echo "$url"
}

# starts a node: fresh_db's URL, role, web port, http port, socks port, extra env...
node() {
  local db="$1" role="$2" web="$3" http="$4" socks="$5"; shift 5
  env DATABASE_URL="$db" ATLANTIC_SITE_ROOT="$WORK/site" ATLANTIC_ROLE="$role" \
    ATLANTIC_ALLOW_PRIVATE_DESTINATIONS=1 ATLANTIC_LOG=warn ATLANTIC_NODE_ID="$role-$web" \
    ATLANTIC_LISTEN="127.0.0.1:$web" ATLANTIC_HTTP_PROXY="127.0.0.1:$http" \
    ATLANTIC_SOCKS_PROXY="127.0.0.1:$socks" "$@" "$BIN" serve >>"$WORK/serve.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 150); do
    curl -fsS "http://127.0.0.1:$web/ready" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "node on $web never ready" >&2; cat "$WORK/serve.log" >&2; exit 1
}

stop_nodes() {  # every node started since the origin
  for pid in "${PIDS[@]:1}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  PIDS=("${PIDS[0]}")
}

creds() {
  echo "$(sed -n 's/^ *proxy_username=//p' "$WORK/user.txt"):$(sed -n 's/^ *proxy_password=//p' "$WORK/user.txt")"
}

# CPU seconds (user + system) used so far by each node, and by redis-server: "name=secs ..."
cpu_now() {
  local hz; hz="$(getconf CLK_TCK)"
  for pid in "${PIDS[@]:1}" $(pgrep -x redis-server || true); do
    [[ -r /proc/$pid/stat ]] || continue
    local name; name="$(tr '\0' ' ' </proc/"$pid"/environ 2>/dev/null | grep -o 'ATLANTIC_NODE_ID=[^ ]*' | cut -d= -f2)"
    [[ -n "$name" ]] || name="redis"
    awk -v n="$name" -v hz="$hz" '{printf "%s=%.2f ", n, ($14 + $15) / hz}' /proc/"$pid"/stat
  done
}

# one forward_get measurement: label, concurrency, proxy ports...; prints requests a second,
# and each process's CPU per request into $OUT/cpu.txt
measure() {
  local label="$1" conc="$2"; shift 2
  local files=() runs=() before after
  before="$(cpu_now)"
  for port in "$@"; do
    local f="$WORK/m-$label-$port.json"
    "$PB" bench --proxy "http://$(creds)@127.0.0.1:$port" --origin "127.0.0.1:$ORIGIN_PORT" \
      --scenario forward_get --concurrency "$conc" --duration "$DURATION" --label "$label" \
      --rep 1 >"$f" 2>>"$WORK/pb.log" &
    runs+=($!)
    files+=("$f")
  done
  for pid in "${runs[@]}"; do wait "$pid"; done
  after="$(cpu_now)"
  echo "$label before: $before" >>"$OUT/cpu.txt"
  echo "$label after: $after" >>"$OUT/cpu.txt"
  python3 - "${files[@]}" <<'PY'
import json, sys
total = 0.0
for f in sys.argv[1:]:
    for line in open(f):
        line = line.strip()
        if line.startswith("{"):
            total += json.loads(line).get("rps", 0.0)
print(f"{total:.0f}")
PY
}

echo "[$(date -u +%T)] start; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for rep in $(seq "$REPS"); do
  db="$(fresh_db)"
  node "$db" all 18290 18291 18292
  sleep 1
  rps="$(measure alone 64 18291)"; echo "alone rep=$rep rps=$rps" | tee -a "$OUT/results.txt"
  stop_nodes

  db="$(fresh_db)"
  node "$db" all 18290 18291 18292 ATLANTIC_REDIS_URL="$REDIS" ATLANTIC_CLUSTER_NAME="bench_$rep"
  sleep 1
  rps="$(measure redis 64 18291)"; echo "redis rep=$rep rps=$rps" | tee -a "$OUT/results.txt"
  stop_nodes
done

for rep in $(seq "$REPS"); do
  db="$(fresh_db)"
  cluster=(ATLANTIC_REDIS_URL="$REDIS" ATLANTIC_CLUSTER_NAME="bench_three_$rep")
  node "$db" web 18290 18291 18292 "${cluster[@]}"
  node "$db" gateway 18293 18294 18295 "${cluster[@]}"
  node "$db" gateway 18296 18297 18298 "${cluster[@]}"
  sleep 1
  rps="$(measure three 32 18294 18297)"; echo "three rep=$rep rps=$rps" | tee -a "$OUT/results.txt"
  stop_nodes
done

python3 - "$OUT/results.txt" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\w+) rep=\d+ rps=(\d+)", line)
    if m:
        runs.setdefault(m.group(1), []).append(int(m.group(2)))
med = {k: statistics.median(v) for k, v in runs.items()}
print("\n| configuration | forward GET req/s (median) | runs | vs alone |")
print("|---|---|---|---|")
for k in ("alone", "redis", "three"):
    if k in med:
        print(f"| {k} | {med[k]:.0f} | {runs[k]} | {med[k] / med['alone']:.2f}x |")
PY
python3 - "$OUT/cpu.txt" "$OUT/results.txt" "$DURATION" <<'PY'
import re, statistics, sys
cpu, res, duration = sys.argv[1], sys.argv[2], float(sys.argv[3])
rps = {}
for line in open(res):
    m = re.match(r"(\w+) rep=(\d+) rps=(\d+)", line)
    if m:
        rps.setdefault(m.group(1), []).append(int(m.group(3)))
lines = [l.split(": ", 1) for l in open(cpu).read().splitlines()]
per = {}
for i in range(0, len(lines) - 1, 2):
    label = lines[i][0].split()[0]
    b = dict(kv.split("=") for kv in lines[i][1].split())
    a = dict(kv.split("=") for kv in lines[i + 1][1].split())
    for name in a:
        used = float(a[name]) - float(b.get(name, a[name]))
        per.setdefault(label, {}).setdefault(name, []).append(used)
print("\n| configuration | process | CPU per request (µs, median of runs) |")
print("|---|---|---|")
for label, procs in per.items():
    requests = statistics.median(rps[label]) * duration
    for name, used in sorted(procs.items()):
        print(f"| {label} | {name} | {statistics.median(used) / requests * 1e6:.1f} |")
PY
echo "[$(date -u +%T)] done; results in $OUT" >&2
