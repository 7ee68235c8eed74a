#!/usr/bin/env bash
# Issue 7's store benchmark: `switchboard bench calls` (echo) against one
# node on each store — memory, file, Redis — and against Redis-backed nodes
# behind a round-robin nginx front (one node, then three), at 50 and 500
# sessions, with Redis's own counters read over a steady window of each run.
# Prints one JSON line per measurement for docs/benchmarks.md.
#
#   bench/stores.sh [SECONDS] [ROUNDS]     (default 10 s, 1 round)
#   bench/stores.sh monitor                (the Redis commands of a few calls)
#   STORES_SESSIONS="50" STORES_CASES="redis redis-front3" bench/stores.sh 2
#                                          (a subset: sessions and cases)
#   STORES_BIN=/path/to/switchboard         (another binary)
#
# Needs a release build (cargo build --release -p switchboard), redis-server,
# redis-cli, nginx and python3. Everything listens on 127.0.0.1 (free ports),
# starts fresh for its measurement and is stopped after it; files go to a
# temporary directory that is removed at exit.
#
# Per measurement, besides the load generator's report (`bench`):
# - `window`: from 25 % to 75 % of the run (sessions are all open, nothing
#   is ending), the tools/call requests the nodes counted (`/metrics`), the
#   CPU time of every process (nodes, Redis, nginx, the load generator) per
#   call, and from Redis: commands per call by command (`INFO commandstats`)
#   and read events per call (`total_reads_processed`: one per batch of
#   commands Redis read off a socket, so concurrent callers' commands that
#   reach it together count once — a lower bound of round trips under load).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SB=${STORES_BIN:-$ROOT/target/release/switchboard}  # not SWITCHBOARD_*: the nodes read those
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
for need in "$SB" redis-server redis-cli "$NGINX" python3 curl; do
  command -v "$need" >/dev/null || { echo "stores: $need is missing" >&2; exit 2; }
done

TMP=$(mktemp -d /tmp/sb-stores.XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_up URL PID: until URL answers (or PID is gone: fail).
wait_up() {
  for _ in $(seq 200); do
    curl -fs -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { tail -n 5 "$TMP"/*.log >&2; echo "stores: pid $2 exited before $1 answered" >&2; return 1; }
    sleep 0.05
  done
  echo "stores: $1 did not come up" >&2
  return 1
}

stop_all() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}

RPORT=
start_redis() {
  RPORT=$(free_port)
  redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
    >"$TMP/redis.log" 2>&1 &
  pids+=($!)
  REDIS_PID=$!
  for _ in $(seq 100); do
    [[ $(redis-cli -p "$RPORT" ping 2>/dev/null) == PONG ]] && return 0
    sleep 0.05
  done
  echo "stores: redis-server did not come up" >&2
  return 1
}

# start_node STORE N: node N on STORE; sets NODE_PID and NODE_PORT.
start_node() {
  local store=$1 n=$2
  NODE_PORT=$(free_port)
  local -a env=(RUST_LOG=warn SWITCHBOARD_STORE="$store"
    SWITCHBOARD_MAX_SESSIONS_PER_IDENTITY=200000 SWITCHBOARD_SEALING_KEY="$SEALING_KEY")
  case $store in
    file) env+=(SWITCHBOARD_STORE_PATH="$TMP/node$n.redb") ;;
    redis) env+=(SWITCHBOARD_REDIS_URL="redis://127.0.0.1:$RPORT" SWITCHBOARD_REDIS_PREFIX=bench) ;;
  esac
  env "${env[@]}" "$SB" serve --listen "127.0.0.1:$NODE_PORT" >"$TMP/node$n.log" 2>&1 &
  NODE_PID=$!
  pids+=($!)
  wait_up "http://127.0.0.1:$NODE_PORT/healthz" "$NODE_PID"
}

# start_front PORT...: nginx, round robin per request over the nodes, on
# the load balancer config of docs/deployment.md (deploy/nginx/switchboard.conf
# through scripts/nginx-front.sh: kept-alive connections to the nodes); sets
# FRONT_PID and FRONT_PORT.
start_front() {
  FRONT_PORT=$(free_port)
  local nodes=() p
  for p in "$@"; do nodes+=("127.0.0.1:$p"); done
  mkdir -p "$TMP/nginx"
  "$ROOT/scripts/nginx-front.sh" "127.0.0.1:$FRONT_PORT backlog=4096" "${nodes[@]}" >"$TMP/nginx/switchboard.conf"
  cat >"$TMP/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  include $TMP/nginx/switchboard.conf;
}
CONF
  "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" 2>"$TMP/nginx/stderr.log" &
  FRONT_PID=$!
  pids+=($!)
  wait_up "http://127.0.0.1:$FRONT_PORT/healthz" "$FRONT_PID"
}

# cpu_ticks PID...: their summed utime+stime (clock ticks).
cpu_ticks() {
  local t=0 pid
  for pid in "$@"; do
    [[ -r /proc/$pid/stat ]] || { echo "stores: pid $pid is gone" >&2; continue; }
    t=$((t + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$t"
}

# calls_done PORT...: tools/call requests the nodes have answered.
calls_done() {
  local n=0 p c
  for p in "$@"; do
    c=$(curl -s "http://127.0.0.1:$p/metrics" |
      awk '/^switchboard_requests_total\{/ && /method="tools\/call"/ {s += $NF} END {printf "%d", s}')
    n=$((n + c))
  done
  echo "$n"
}

# snapshot FILE: Redis counters (when Redis runs) and everyone's CPU.
snapshot() {
  {
    echo "calls $(calls_done "${NODE_PORTS[@]}")"
    echo "node_ticks $(cpu_ticks "${NODE_PIDS[@]}")"
    if [[ -r /proc/$BENCH_PID/stat ]]; then echo "loadgen_ticks $(cpu_ticks "$BENCH_PID")"; fi
    if [[ -n ${FRONT_PID:-} ]]; then echo "front_ticks $(cpu_ticks "$FRONT_PID")"; fi
    if [[ $USES_REDIS == 1 ]]; then
      echo "redis_ticks $(cpu_ticks "$REDIS_PID")"
      redis-cli -p "$RPORT" info stats | tr -d '\r' | awk -F: '/^total_reads_processed:/ {print "redis_reads", $2}'
      redis-cli -p "$RPORT" info commandstats | tr -d '\r' |
        sed -n 's/^cmdstat_\([a-z|]*\):calls=\([0-9]*\),.*/cmd_\1 \2/p'
    fi
  } >"$1"
}

# window_json A B: the differences between two snapshots, per call.
window_json() {
  python3 - "$1" "$2" "$(getconf CLK_TCK)" <<'PY'
import json, sys
def read(p):
    return {k: int(v) for k, v in (l.split() for l in open(p) if l.strip())}
a, b, hz = read(sys.argv[1]), read(sys.argv[2]), int(sys.argv[3])
calls = b["calls"] - a["calls"]
out = {"calls": calls}
per = lambda d: round(d / calls, 3) if calls else None
for k in ("node", "loadgen", "front", "redis"):
    if k + "_ticks" in a and k + "_ticks" in b:
        us = (b[k + "_ticks"] - a[k + "_ticks"]) * 1e6 / hz
        out[k + "_cpu_per_call_us"] = round(us / calls, 1) if calls else None
if "redis_reads" in b:
    # The two INFO calls of the first snapshot are read after it was taken.
    out["redis_reads_per_call"] = per(b["redis_reads"] - a["redis_reads"] - 2)
    cmds = {k[4:]: b[k] - a.get(k, 0) for k in b if k.startswith("cmd_")}
    cmds = {k: v for k, v in cmds.items() if v and k != "info"}
    out["redis_commands_per_call"] = per(sum(cmds.values()))
    out["redis_commands"] = {k: round(v / calls, 4) for k, v in sorted(cmds.items())}
print(json.dumps(out))
PY
}

# measure NAME STORE NODES FRONT SESSIONS: one fresh set-up, one bench run.
measure() {
  local name=$1 store=$2 nodes=$3 front=$4 sessions=$5 n url
  NODE_PIDS=() NODE_PORTS=() FRONT_PID= USES_REDIS=0
  if [[ $store == redis ]]; then
    USES_REDIS=1
    start_redis
  fi
  for n in $(seq "$nodes"); do
    start_node "$store" "$n"
    NODE_PIDS+=("$NODE_PID") NODE_PORTS+=("$NODE_PORT")
  done
  url="http://127.0.0.1:${NODE_PORTS[0]}/mcp"
  if [[ $front == front ]]; then
    start_front "${NODE_PORTS[@]}"
    url="http://127.0.0.1:$FRONT_PORT/mcp"
  fi
  local load1
  load1=$(cut -d' ' -f1 /proc/loadavg)
  "$SB" bench calls --url "$url" --sessions "$sessions" --duration "${DUR}s" \
    --tool echo --arguments '{"message":"hi"}' --pid "${NODE_PIDS[0]}" \
    --json --no-progress >"$TMP/bench.json" 2>"$TMP/bench.err" &
  BENCH_PID=$!
  sleep "$(python3 -c "print($DUR * 0.25)")"
  snapshot "$TMP/a"
  sleep "$(python3 -c "print($DUR * 0.5)")"
  snapshot "$TMP/b"
  wait "$BENCH_PID" || true
  echo "{\"name\":\"$name\",\"store\":\"$store\",\"nodes\":$nodes,\"front\":\"$front\",\"sessions\":$sessions,\"load1_before\":$load1,\"window\":$(window_json "$TMP/a" "$TMP/b"),\"bench\":$(cat "$TMP/bench.json" || echo null)}"
  stop_all
  rm -f "$TMP"/node*.redb
}

# The Redis commands of one session's calls, as Redis receives them
# (MONITOR): five calls back to back, then two more after a pause of over
# a second (when the once-a-second `last seen` refresh is due).
monitor() {
  USES_REDIS=1
  start_redis
  start_node redis 1
  redis-cli -p "$RPORT" monitor >>"$TMP/monitor.log" &
  local mon=$!
  pids+=($!)
  sleep 0.3
  local url="http://127.0.0.1:$NODE_PORT/mcp" sid
  local h=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
  sid=$(curl -s -D - -o /dev/null "${h[@]}" "$url" -d \
    '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"m","version":"1"}}}' |
    tr -d '\r' | awk -F': ' 'tolower($1)=="mcp-session-id" {print $2}')
  h+=(-H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-11-25')
  curl -s -o /dev/null "${h[@]}" "$url" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  call() {
    echo "--- tools/call $1" >>"$TMP/monitor.log"
    sleep 0.2
    curl -s -o /dev/null "${h[@]}" "$url" -d \
      "{\"jsonrpc\":\"2.0\",\"id\":$1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"message\":\"hi\"}}}"
    sleep 0.2
  }
  local i
  for i in 1 2 3 4 5; do call "$i"; done
  sleep 1.2
  call 6
  sleep 1.2
  call 7
  kill "$mon" 2>/dev/null || true
  # Show the session id short, and the command lines with their timestamps.
  sed -e "s/$sid/<sid>/g" "$TMP/monitor.log"
  stop_all
}

SEALING_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
if [[ ${1:-} == monitor ]]; then
  monitor
  exit 0
fi
DUR=${1:-10}
ROUNDS=${2:-1}
for round in $(seq "$ROUNDS"); do
  for sessions in ${STORES_SESSIONS:-50 500}; do
    for case in ${STORES_CASES:-memory file redis redis-front1 redis-front3}; do
      case $case in
        memory) measure "r$round-$case-$sessions" memory 1 direct "$sessions" ;;
        file) measure "r$round-$case-$sessions" file 1 direct "$sessions" ;;
        redis) measure "r$round-$case-$sessions" redis 1 direct "$sessions" ;;
        redis-front1) measure "r$round-$case-$sessions" redis 1 front "$sessions" ;;
        redis-front3) measure "r$round-$case-$sessions" redis 3 front "$sessions" ;;
        *) echo "stores: unknown case $case" >&2; exit 2 ;;
      esac
    done
  done
done
