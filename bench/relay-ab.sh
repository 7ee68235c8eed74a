#!/usr/bin/env bash
# The relay's own cost, old build against new, alternated in one sitting.
#
#   bench/relay-ab.sh OLD_BINARY NEW_BINARY [ROUNDS] [SESSIONS] [DURATION]
#
# For each build in turn (A, B, A, B, …) one fresh pair of servers:
#   - the upstream: `switchboard serve` (UPSTREAM_BINARY, default OLD_BINARY,
#     the same for both sides) with its built-in `echo`; it answers a call
#     with a plain JSON body;
#   - the gateway under test: the build, serving the built-in toolset
#     (`kind = "builtin"`, tool `echo`) and that upstream (`kind = "http"`,
#     `prefix = "up__"`, `pool_size = 64`, tool `up__echo`).
# Then `switchboard bench calls` (NEW_BINARY's) against the gateway's
# built-in `echo` and against the relayed `up__echo`, each with `--pid` of
# the gateway: the gateway's own CPU per call from /proc (the upstream's and
# the load generator's do not count). At one session the upstream is also
# called directly, for the added p50 (relayed p50 − direct p50).
#
# One JSON line per run ("LABEL ROUND KIND {bench json}"), then per build the
# medians of: built-in CPU/call, relayed CPU/call, relayed − built-in (paired
# within each round), p50s, and new/old of the relayed-minus-built-in cost.
# Loopback only; bounded in time (about ROUNDS × 2 × 2–3 × DURATION).
set -euo pipefail
OLD=$1
NEW=$2
ROUNDS=${3:-5}
SESSIONS=${4:-50}
DUR=${5:-10s}
UP_BIN=${UPSTREAM_BINARY:-$OLD}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
WORK=$(mktemp -d /tmp/switchboard-relay-ab.XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_healthy() {
  for _ in $(seq 400); do
    curl -fs "http://127.0.0.1:$1/healthz" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "relay-ab.sh: nothing healthy on port $1" >&2
  return 1
}

bench() { # URL PID TOOL
  "$NEW" bench calls --sessions "$SESSIONS" --duration "$DUR" --url "$1" \
    --pid "$2" --tool "$3" --json --no-progress 2>/dev/null || echo '{}'
}

# run LABEL BINARY ROUND: one upstream, one gateway, the bench runs.
run() {
  local label=$1 bin=$2 round=$3 up gw upid gpid
  up=$(free_port)
  "$UP_BIN" serve --listen "127.0.0.1:$up" >/dev/null 2>&1 &
  upid=$!
  PIDS+=("$upid")
  wait_healthy "$up"
  gw=$(free_port)
  cat >"$WORK/gateway.toml" <<EOF
[[upstreams]]
name = "builtin"
kind = "builtin"
prefix = ""

[[upstreams]]
name = "up"
kind = "http"
url = "http://127.0.0.1:$up/mcp"
prefix = "up__"
pool_size = 64
EOF
  "$bin" serve --listen "127.0.0.1:$gw" --config "$WORK/gateway.toml" >/dev/null 2>&1 &
  gpid=$!
  PIDS+=("$gpid")
  wait_healthy "$gw"
  local url=http://127.0.0.1:$gw/mcp
  echo "$label $round builtin $(bench "$url" "$gpid" echo)"
  echo "$label $round relayed $(bench "$url" "$gpid" up__echo)"
  if (( SESSIONS == 1 )); then
    echo "$label $round direct $(bench "http://127.0.0.1:$up/mcp" "$upid" echo)"
  fi
  kill "$gpid" "$upid" 2>/dev/null || true
  wait "$gpid" "$upid" 2>/dev/null || true
}

echo "relay-ab.sh: $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg); sessions $SESSIONS, $DUR" >&2
lines=()
for r in $(seq "$ROUNDS"); do
  while IFS= read -r line; do lines+=("$line"); echo "$line"; done < <(run old "$OLD" "$r")
  while IFS= read -r line; do lines+=("$line"); echo "$line"; done < <(run new "$NEW" "$r")
done
echo "relay-ab.sh: $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

printf '%s\n' "${lines[@]}" | python3 -c '
import json, statistics, sys
runs = {}
for line in sys.stdin:
    label, rnd, kind, text = line.split(" ", 3)
    try:
        runs.setdefault(label, {}).setdefault(rnd, {})[kind] = json.loads(text)
    except ValueError:
        print("unreadable run:", line.strip(), file=sys.stderr)
def cpu(r):
    return (r.get("server") or {}).get("cpu_per_op_us")
def p50(r):
    return (r.get("latency_us") or {}).get("p50")
def med(xs):
    xs = [x for x in xs if x is not None]
    return round(statistics.median(xs), 1) if xs else None
summary = {}
for label, rounds in runs.items():
    rs = list(rounds.values())
    b = [cpu(r.get("builtin", {})) for r in rs]
    x = [cpu(r.get("relayed", {})) for r in rs]
    d = [xi - bi for bi, xi in zip(b, x) if bi is not None and xi is not None]
    s = {
        "rounds": len(rs),
        "builtin_cpu_us": med(b),
        "relayed_cpu_us": med(x),
        "relayed_minus_builtin_us": med(d),
        "relayed_minus_builtin_all": [round(v, 1) for v in d],
        "builtin_p50_us": med([p50(r.get("builtin", {})) for r in rs]),
        "relayed_p50_us": med([p50(r.get("relayed", {})) for r in rs]),
        "relayed_rate": med([r.get("relayed", {}).get("throughput_per_s") for r in rs]),
        "errors": sum(r.get(k, {}).get("errors", 0) for r in rs for k in r),
    }
    added = [p50(r["relayed"]) - p50(r["direct"]) for r in rs
             if "direct" in r and p50(r.get("relayed", {})) is not None and p50(r["direct"]) is not None]
    if added:
        s["added_p50_us"] = med(added)
        s["added_p50_all"] = added
    summary[label] = s
o = summary.get("old", {}).get("relayed_minus_builtin_us")
n = summary.get("new", {}).get("relayed_minus_builtin_us")
if o and n:
    summary["new_over_old_relay_cost"] = round(n / o, 3)
print(json.dumps(summary))
'
