#!/usr/bin/env bash
# Instructions per operation, counted by callgrind: a measure of the
# server's own user-space work that does not depend on the machine's load
# or on its other processes (repeat runs agree within about 0.5 %), for
# comparing builds where CPU time from /proc moves by 30 % between runs.
# It counts no kernel time (system calls, wake-ups) and weighs every
# instruction alike (no cache misses), so it complements `bench/ab.sh`'s
# CPU per call rather than replacing it.
#
#   bench/instructions.sh BINARY [BINARY…]
#
# For each binary: a server under `valgrind --tool=callgrind` (the access
# line on, to /dev/null), a warm-up run, counters zeroed, the measured run,
# counters dumped; one line per binary: instructions, operations, and
# instructions per operation. INSTR_ARGS is the `switchboard bench`
# scenario (default `calls --sessions 4 --duration 6s`; a server under
# callgrind runs about 50 times slower, so keep the sessions few);
# INSTR_CONFIG a configuration file for the server; the load generator is
# the first binary's `bench`. Needs valgrind. Loopback only; bounded.
set -euo pipefail
(( $# )) || { echo "usage: $0 BINARY [BINARY…]" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }
read -r -a ARGS <<<"${INSTR_ARGS:-calls --sessions 4 --duration 6s}"
LOADGEN=$1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# bench PORT ARGS…: one load run against the server; prints its operations.
bench() {
  local port=$1
  shift
  "$LOADGEN" bench "$@" --url "http://127.0.0.1:$port/mcp" --json --no-progress |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["ok"] + r["rejections"])'
}

for bin in "$@"; do
  port=$(free_port)
  extra=()
  [[ -z ${INSTR_CONFIG:-} ]] || extra=(--config "$INSTR_CONFIG")
  valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.%p" \
    "$bin" serve --listen "127.0.0.1:$port" "${extra[@]}" >/dev/null 2>&1 &
  vg=$!
  for _ in $(seq 240); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.25
  done
  bench "$port" "${ARGS[@]}" >/dev/null
  callgrind_control -z "$vg" >/dev/null 2>&1
  ops=$(bench "$port" "${ARGS[@]}")
  callgrind_control -d "$vg" >/dev/null 2>&1
  dump=$(ls -t "$WORK"/cg."$vg".* | head -1)
  ir=$(awk '/^summary:/ {print $2}' "$dump")
  kill "$vg" 2>/dev/null || true
  wait "$vg" 2>/dev/null || true
  rm -f "$WORK"/cg."$vg"*
  echo "$bin instructions=$ir operations=$ops per_operation=$((ir / ops))"
done
