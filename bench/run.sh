#!/usr/bin/env bash
# Measure Switchboard against the reference servers (bench/peers.sh) with
# `switchboard bench`, all on loopback in one run, and print one JSON line
# per measurement (prefixed with its name) for docs/benchmarks.md.
#
#   bench/run.sh [SECONDS]      (default 10 s per measurement)
#
# Needs a release build (cargo build --release -p switchboard) and
# bench/peers.sh build. Every server is started fresh for its measurement and
# stopped after it. Loopback only; bounded in time.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SB=$ROOT/target/release/switchboard
PEERS=$ROOT/bench/peers.sh
DUR=${1:-10}s
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_sb PORT [ENV...]: a fresh switchboard; prints its pid.
start_sb() {
  local port=$1
  shift
  env "$@" RUST_LOG=warn "$SB" serve --listen "127.0.0.1:$port" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.05
  done
  echo "$pid"
}

start() { # start KIND PORT [ENV...] -> pid
  local kind=$1 port=$2
  shift 2
  case $kind in
    switchboard) start_sb "$port" "$@" ;;
    *) "$PEERS" start "$kind" "$port" ;;
  esac
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# measure NAME KIND 'ENV…' BENCH-ARGS…: one fresh server, one bench run.
measure() {
  local name=$1 kind=$2 envs=$3
  shift 3
  local port pid
  port=$(free_port)
  # shellcheck disable=SC2086
  pid=$(start "$kind" "$port" $envs)
  local out
  out=$("$SB" bench "$@" --url "http://127.0.0.1:$port/mcp" --pid "$pid" --json --no-progress 2>/dev/null || true)
  echo "$name $out"
  if [[ $kind == switchboard ]]; then
    # Sessions the server still holds after the run.
    echo "$name-after sessions_open=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^switchboard_sessions_open /{print $2}')"
  fi
  if [[ $kind == switchboard ]]; then stop "$pid"; else "$PEERS" stop "$pid" >/dev/null 2>&1 || stop "$pid"; fi
}

BIG="SWITCHBOARD_MAX_SESSIONS_PER_IDENTITY=200000 SWITCHBOARD_MAX_SESSIONS=200000"

for kind in switchboard rmcp ts; do
  measure "calls50-$kind" "$kind" "$BIG" calls --sessions 50 --duration "$DUR"
done
measure "calls50-switchboard-modern" switchboard "$BIG" calls --era modern --sessions 50 --duration "$DUR"
for kind in switchboard rmcp ts; do
  measure "calls500-$kind" "$kind" "$BIG" calls --sessions 500 --duration "$DUR"
done
for kind in switchboard rmcp ts; do
  measure "idle10k-streams-$kind" "$kind" "$BIG" idle --sessions 10000 --streams --duration 5s --sample 100
done
measure "idle100k-switchboard" switchboard "$BIG" idle --sessions 100000 --duration 5s --sample 100
for kind in switchboard rmcp ts; do
  measure "setup-$kind" "$kind" "$BIG" setup --duration "$DUR"
done
# Overload: an in-flight cap of 64; the baseline is 64 sessions, then 2,000.
CAP="$BIG SWITCHBOARD_MAX_IN_FLIGHT=64 SWITCHBOARD_MAX_QUEUE=64"
measure "overload-baseline64" switchboard "$CAP" calls --sessions 64 --duration "$DUR"
measure "overload-2000" switchboard "$CAP" overload --clients 2000 --duration "$DUR"
# No leak: 100,000 session cycles; sessions end at 0, RSS compared.
measure "leak-100k-cycles" switchboard "$BIG" setup --max-cycles 100000 --duration 10m
