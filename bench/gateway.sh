#!/usr/bin/env bash
# bench/gateway.sh — issue 6's gateway benchmarks, on loopback, in one run:
#
#   stdio   50 sessions calling `echo` through Switchboard's gateway to a stdio
#           upstream (`switchboard stdio`, one process per session) vs. the same
#           upstream behind supergateway (stateful Streamable HTTP, one child per
#           session). Target: Switchboard >= 10 x supergateway's calls/s.
#   http    rmcp's Streamable HTTP server (bench/peers/rmcp-echo) directly vs.
#           Switchboard in front of it (kind = "http", prefix ""), at 1 session
#           (sequential: added p50 latency, target <= 100 us) and at 50 sessions
#           (target: >= 80 % of direct calls/s). pool_size = 64 (BENCH_GATEWAY_POOL).
#           For reference, Switchboard alone (built-in `echo`) at 1 session too.
#
#   bench/gateway.sh [SECONDS] [ROUNDS]    (default 10 s per measurement, 3 rounds)
#
# BENCH_GATEWAY_ONLY=stdio or =http runs only that half.
#
# Each round runs every pair back to back (the pair's order alternates between
# rounds); every server is started fresh for its measurement on a free port and
# stopped after it. Prints one line per measurement (name, round, load average,
# whole-server CPU, and `switchboard bench --json`), then a Markdown summary
# with the median of each figure over the rounds and the median of the per-round
# ratios. Lines are also kept in $BENCH_GATEWAY_OUT (default: a temp file, path
# printed at the end).
#
# Needs a release build (cargo build --release -p switchboard; or set
# BENCH_SWITCHBOARD to another switchboard binary), curl, python3,
# and bench/peers.sh (which builds/installs rmcp-echo and supergateway on first use).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SB=${BENCH_SWITCHBOARD:-$ROOT/target/release/switchboard}
PEERS=$ROOT/bench/peers.sh
DUR=${1:-10}
ROUNDS=${2:-3}
# Idle connections Switchboard keeps to rmcp. The default (16) is below the 50
# concurrent calls, so connections beyond it would be closed and reopened; 64
# matches max_processes = 100 on the stdio side: enough for the concurrency.
POOL=${BENCH_GATEWAY_POOL:-64}
[[ $DUR =~ ^[0-9]+$ && $ROUNDS =~ ^[0-9]+$ ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
[[ -x $SB ]] || { echo "gateway.sh: no $SB; run cargo build --release -p switchboard" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d /tmp/switchboard-gateway-bench.XXXXXX)
OUT=${BENCH_GATEWAY_OUT:-$WORK/results.jsonl}
: >"$OUT"
BENCH_PID=   # the load generator while it runs
SB_PIDS=()   # switchboard servers we started
PEER_PIDS=() # peers we started (stopped through peers.sh)

cleanup() {
  local pid
  [[ -n $BENCH_PID ]] && kill "$BENCH_PID" 2>/dev/null
  for pid in "${SB_PIDS[@]}"; do stop_sb "$pid"; done
  for pid in "${PEER_PIDS[@]}"; do "$PEERS" stop "$pid" >/dev/null 2>&1 || true; done
  [[ $OUT == "$WORK"/* ]] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf 'gateway.sh: %s\n' "$*" >&2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# CPU ticks of PID and all its live descendants, with the children they have
# reaped (utime + stime + cutime + cstime): the whole server side, upstream
# processes included.
tree_ticks() {
  python3 - "$1" <<'PY'
import os, sys
root = int(sys.argv[1]); procs = {}
for d in os.listdir('/proc'):
    if not d.isdigit():
        continue
    try:
        with open(f'/proc/{d}/stat') as f:
            s = f.read()
    except OSError:
        continue
    f = s[s.rindex(')') + 2:].split()
    procs[int(d)] = (int(f[1]), sum(int(x) for x in f[11:15]))
kids = {}
for pid, (ppid, _) in procs.items():
    kids.setdefault(ppid, []).append(pid)
total, todo = 0, [root]
while todo:
    p = todo.pop()
    if p in procs:
        total += procs[p][1]
        todo += kids.get(p, [])
print(total)
PY
}

# start_sb CONFIG PORT: a fresh switchboard serving CONFIG (may be empty);
# its pid in $STARTED (not printed: a $(...) subshell would lose the cleanup list).
start_sb() {
  local config=$1 port=$2 pid
  local args=(serve --listen "127.0.0.1:$port")
  [[ -n $config ]] && args+=(--config "$config")
  SWITCHBOARD_MAX_SESSIONS_PER_IDENTITY=200000 SWITCHBOARD_MAX_SESSIONS=200000 RUST_LOG=warn \
    "$SB" "${args[@]}" </dev/null >>"$WORK/switchboard-$port.log" 2>&1 &
  pid=$!
  SB_PIDS+=("$pid")
  for _ in $(seq 200); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && { STARTED=$pid; return; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  log "switchboard on port $port did not start; log $WORK/switchboard-$port.log"
  tail -n 20 "$WORK/switchboard-$port.log" >&2
  exit 1
}

stop_sb() {
  kill -TERM "$1" 2>/dev/null || return 0
  local i
  for ((i = 0; i < 50; i++)); do
    kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

start_peer() { # start_peer KIND PORT [-- CMD...]: pid in $STARTED
  STARTED=$("$PEERS" start "$@")
  PEER_PIDS+=("$STARTED")
}

forget() { # drop PID from the cleanup lists once stopped
  local p keep=()
  for p in "${SB_PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  SB_PIDS=("${keep[@]}")
  keep=()
  for p in "${PEER_PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  PEER_PIDS=("${keep[@]}")
}

# bench_into NAME ROUND SERVER_PID URL SESSIONS [UPSTREAM_PID]: one `bench calls`
# run, one line. UPSTREAM_PID: a server behind SERVER_PID that is not its child
# (rmcp behind Switchboard), whose CPU is recorded too.
bench_into() {
  local name=$1 round=$2 pid=$3 url=$4 sessions=$5 up=${6:-} load t0 t1 u0=0 u1=0 json
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  [[ -n $up ]] && u0=$(tree_ticks "$up")
  t0=$(tree_ticks "$pid")
  # In the background + wait, so a signal is handled at once, not after the run.
  "$SB" bench calls --url "$url" --sessions "$sessions" --duration "${DUR}s" \
    --tool echo --arguments '{"message":"hi"}' --pid "$pid" --json --no-progress \
    </dev/null >"$WORK/bench.json" 2>>"$WORK/bench.log" &
  BENCH_PID=$!
  wait "$BENCH_PID" || true
  BENCH_PID=
  json=$(<"$WORK/bench.json")
  t1=$(tree_ticks "$pid")
  [[ -n $up ]] && u1=$(tree_ticks "$up")
  [[ $json == '{'* ]] || json='{"error":"bench failed, see bench.log"}'
  local line
  line=$(printf '{"name":"%s","round":%s,"sessions":%s,"load":"%s","tree_cpu_ticks":%s,"upstream_cpu_ticks":%s,"clk_tck":%s,"bench":%s}' \
    "$name" "$round" "$sessions" "$load" "$((t1 - t0))" "$((u1 - u0))" "$(getconf CLK_TCK)" "$json")
  echo "$line" >>"$OUT"
  printf '%s round=%s load=[%s] %s\n' "$name" "$round" "$load" "$json"
}

# ---- the four servers ---------------------------------------------------

run_gw_stdio() { # Switchboard gateway -> `switchboard stdio` per session
  local round=$1 port cfg pid
  port=$(free_port)
  cfg=$WORK/gw-stdio.toml
  cat >"$cfg" <<TOML
[[upstreams]]
name = "everything"
command = "$SB"
args = ["stdio"]
prefix = ""
max_processes = 100
TOML
  start_sb "$cfg" "$port"
  pid=$STARTED
  bench_into gw-stdio "$round" "$pid" "http://127.0.0.1:$port/mcp" 50
  stop_sb "$pid"
  forget "$pid"
}

run_sg_stdio() { # supergateway (stateful Streamable HTTP) -> `switchboard stdio` per session
  local round=$1 port pid
  port=$(free_port)
  start_peer supergateway "$port" -- "$SB" stdio
  pid=$STARTED
  bench_into supergateway-stdio "$round" "$pid" "http://127.0.0.1:$port/mcp" 50
  "$PEERS" stop "$pid" >/dev/null 2>&1 || true
  forget "$pid"
}

run_builtin() { # reference: Switchboard alone (built-in `echo`, no upstream), 1 session
  local round=$1 port pid
  port=$(free_port)
  start_sb "" "$port"
  pid=$STARTED
  bench_into switchboard-builtin-1 "$round" "$pid" "http://127.0.0.1:$port/mcp" 1
  stop_sb "$pid"
  forget "$pid"
}

run_rmcp() { # run_rmcp ROUND SESSIONS direct|gateway
  local round=$1 sessions=$2 how=$3 rport rpid port cfg pid
  rport=$(free_port)
  start_peer rmcp "$rport"
  rpid=$STARTED
  if [[ $how == direct ]]; then
    bench_into "rmcp-direct-$sessions" "$round" "$rpid" "http://127.0.0.1:$rport/mcp" "$sessions"
  else
    port=$(free_port)
    cfg=$WORK/gw-http.toml
    cat >"$cfg" <<TOML
[[upstreams]]
name = "rmcp"
kind = "http"
url = "http://127.0.0.1:$rport/mcp"
prefix = ""
pool_size = $POOL
TOML
    start_sb "$cfg" "$port"
    pid=$STARTED
    bench_into "rmcp-via-switchboard-$sessions" "$round" "$pid" "http://127.0.0.1:$port/mcp" "$sessions" "$rpid"
    stop_sb "$pid"
    forget "$pid"
  fi
  "$PEERS" stop "$rpid" >/dev/null 2>&1 || true
  forget "$rpid"
}

# ---- the run ------------------------------------------------------------

log "$SB: $("$SB" --version 2>/dev/null | head -n1); $("$PEERS" versions | tr '\n' ' ')"
log "${DUR}s per measurement, $ROUNDS rounds, HTTP upstream pool_size $POOL; results in $OUT"
ONLY=${BENCH_GATEWAY_ONLY:-}
[[ -z $ONLY || $ONLY == stdio || $ONLY == http ]] || { log "BENCH_GATEWAY_ONLY is stdio or http"; exit 2; }
for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2)); then
    [[ $ONLY == http ]] || { run_gw_stdio "$r"; run_sg_stdio "$r"; }
    [[ $ONLY == stdio ]] || {
      run_rmcp "$r" 1 direct; run_rmcp "$r" 1 gateway; run_builtin "$r"
      run_rmcp "$r" 50 direct; run_rmcp "$r" 50 gateway
    }
  else
    [[ $ONLY == http ]] || { run_sg_stdio "$r"; run_gw_stdio "$r"; }
    [[ $ONLY == stdio ]] || {
      run_rmcp "$r" 1 gateway; run_rmcp "$r" 1 direct; run_builtin "$r"
      run_rmcp "$r" 50 gateway; run_rmcp "$r" 50 direct
    }
  fi
done

python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    by.setdefault(r["name"], []).append(r)
def fig(r, k):
    b = r["bench"]
    if "error" in b:
        return None
    lat = b.get("latency_us") or {}
    ok = b.get("ok") or 0
    return {
        "calls": b.get("throughput_per_s"),
        "p50": lat.get("p50"), "p99": lat.get("p99"),
        "errors": (b.get("errors") or 0) + (b.get("rejections") or 0),
        "cpu": (b.get("server") or {}).get("cpu_per_op_us"),
        "tree": (r["tree_cpu_ticks"] + r.get("upstream_cpu_ticks", 0)) * 1e6 / r["clk_tck"] / ok if ok else None,
        "load": float(r["load"].split()[0]),
    }[k]
def med(name, k):
    v = [fig(r, k) for r in by.get(name, [])]
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None
order = ["gw-stdio", "supergateway-stdio", "rmcp-direct-1", "rmcp-via-switchboard-1", "switchboard-builtin-1",
         "rmcp-direct-50", "rmcp-via-switchboard-50"]
print()
print(f"Medians over {max(r['round'] for r in rows)} round(s):")
print()
print("| run | sessions | calls/s | p50 | p99 | errors (all rounds) | server CPU/call | server side CPU/call (upstreams incl.) | load (1 min) |")
print("|---|---|---|---|---|---|---|---|---|")
for n in order:
    if n not in by:
        continue
    errs = sum(fig(r, "errors") or 0 for r in by[n])
    f = lambda k, fmt: (fmt % med(n, k)) if med(n, k) is not None else "—"
    print(f"| {n} | {by[n][0]['sessions']} | {f('calls', '%.0f')} | {f('p50', '%.0f')} µs | {f('p99', '%.0f')} µs | {errs} "
          f"| {f('cpu', '%.1f')} µs | {f('tree', '%.1f')} µs | {f('load', '%.2f')} |")
def per_round(a, b, k, op):
    out = []
    for ra in by.get(a, []):
        rb = [x for x in by.get(b, []) if x["round"] == ra["round"]]
        if rb and fig(ra, k) is not None and fig(rb[0], k) is not None:
            out.append(op(fig(ra, k), fig(rb[0], k)))
    return out
def show(label, vals, fmt, target):
    if not vals:
        print(f"- {label}: no data")
        return
    print(f"- {label}: median {fmt % statistics.median(vals)} (rounds: {', '.join(fmt % v for v in vals)}) — target {target}")
print()
show("stdio, 50 sessions: Switchboard / supergateway calls/s",
     per_round("gw-stdio", "supergateway-stdio", "calls", lambda a, b: a / b if b else float("inf")), "%.1f ×", "≥ 10 ×")
show("rmcp, 1 session: added p50 (via Switchboard − direct)",
     per_round("rmcp-via-switchboard-1", "rmcp-direct-1", "p50", lambda a, b: a - b), "%.0f µs", "≤ 100 µs")
show("rmcp, 50 sessions: via Switchboard / direct calls/s",
     per_round("rmcp-via-switchboard-50", "rmcp-direct-50", "calls", lambda a, b: 100 * a / b), "%.1f %%", "≥ 80 %")
show("rmcp, 1 session: via Switchboard / direct calls/s",
     per_round("rmcp-via-switchboard-1", "rmcp-direct-1", "calls", lambda a, b: 100 * a / b), "%.1f %%", "(for reference)")
PY
if [[ $OUT == "$WORK"/* ]]; then log "raw lines: $OUT (logs in $WORK)"; fi
