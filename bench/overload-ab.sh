#!/usr/bin/env bash
# Overload, old build against new, alternated in one sitting: per round,
# `calls --sessions 64` and `overload --clients 2000` against a fresh server
# of each binary with `max_in_flight = 64`, `max_queue = 64`; the new one
# also with NEW_ENV (e.g. "SWITCHBOARD_SHED_DELAY_MS=5", a key the old
# binary does not know). One JSON line per run, labelled; the load
# generator is NEW_BINARY's `bench` for both. Loopback only; bounded.
#
#   NEW_ENV="SWITCHBOARD_SHED_DELAY_MS=5" bench/overload-ab.sh OLD NEW [ROUNDS]
#
# OVERLOAD_ARGS adds arguments to the overload runs of both (e.g.
# "--warmup 1s": leave the opening burst out; both binaries' `bench` is
# NEW's, so the old server is measured the same way).
set -uo pipefail
OLD=$1 NEW=$2 ROUNDS=${3:-2}
BASE="SWITCHBOARD_MAX_IN_FLIGHT=64 SWITCHBOARD_MAX_QUEUE=64"
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# run LABEL BINARY ENV ARGS…: one fresh server, one bench run, one line.
run() {
  local label=$1 bin=$2 envs=$3 port pid out
  shift 3
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # shellcheck disable=SC2086
  env $envs "$bin" serve --listen "127.0.0.1:$port" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 200); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.05
  done
  out=$("$NEW" bench "$@" --url "http://127.0.0.1:$port/mcp" --pid "$pid" --json --no-progress 2>/dev/null || true)
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "$label $out"
}

for _ in $(seq "$ROUNDS"); do
  run old_64 "$OLD" "$BASE" calls --sessions 64 --duration 8s
  run new_64 "$NEW" "$BASE ${NEW_ENV:-}" calls --sessions 64 --duration 8s
  # shellcheck disable=SC2086
  run old_2000 "$OLD" "$BASE" overload --clients 2000 --duration 8s ${OVERLOAD_ARGS:-}
  # shellcheck disable=SC2086
  run new_2000 "$NEW" "$BASE ${NEW_ENV:-}" overload --clients 2000 --duration 8s ${OVERLOAD_ARGS:-}
  # shellcheck disable=SC2086
  run new_2000_no_retry_after "$NEW" "$BASE ${NEW_ENV:-}" overload --clients 2000 --duration 8s --ignore-retry-after ${OVERLOAD_ARGS:-}
done
