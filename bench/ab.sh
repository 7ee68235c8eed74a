#!/usr/bin/env bash
# Old build against new build, alternated in one sitting: the same
# `switchboard bench` scenario against a fresh server of each binary in
# turn (A, B, A, B, …), one JSON line per run, then the median server CPU
# per call (or per cycle) of each and their ratio.
#
#   bench/ab.sh OLD_BINARY NEW_BINARY [ROUNDS] [SCENARIO ARGS…]
#
# SCENARIO ARGS default to `calls --sessions 50 --duration 10s`; the load
# generator is NEW_BINARY's `bench` for both sides. Each server runs with the
# default configuration (the access line on, written to /dev/null) unless
# AB_ENV names environment settings for both (e.g. AB_ENV="RUST_LOG=warn").
# AB_OLD_CONFIG / AB_NEW_CONFIG give one side's server a configuration file
# (the same binary on both sides then measures what a setting costs, e.g.
# a [[policies]] rule or a [[hooks]] entry).
# Loopback only; bounded in time.
set -euo pipefail
OLD=$1
NEW=$2
ROUNDS=${3:-3}
shift $(( $# < 3 ? $# : 3 ))
ARGS=("$@")
(( ${#ARGS[@]} )) || ARGS=(calls --sessions 50 --duration 10s)
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# run LABEL BINARY [CONFIG]: one fresh server, one bench run, one JSON line.
run() {
  local label=$1 bin=$2 config=${3:-} port pid out
  local extra=()
  [[ -z $config ]] || extra=(--config "$config")
  port=$(free_port)
  # shellcheck disable=SC2086
  env ${AB_ENV:-} "$bin" serve --listen "127.0.0.1:$port" "${extra[@]}" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 200); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.05
  done
  out=$("$NEW" bench "${ARGS[@]}" --url "http://127.0.0.1:$port/mcp" --pid "$pid" --json --no-progress 2>/dev/null || true)
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "$label $out"
}

lines=()
for r in $(seq "$ROUNDS"); do
  lines+=("$(run old "$OLD" "${AB_OLD_CONFIG:-}")")
  echo "${lines[-1]}"
  lines+=("$(run new "$NEW" "${AB_NEW_CONFIG:-}")")
  echo "${lines[-1]}"
done

printf '%s\n' "${lines[@]}" | python3 -c '
import json, statistics, sys
runs = {"old": [], "new": []}
for line in sys.stdin:
    label, _, text = line.partition(" ")
    try:
        runs[label].append(json.loads(text))
    except ValueError:
        print("unreadable run:", line.strip(), file=sys.stderr)
def cpu(r):
    return (r.get("server") or {}).get("cpu_per_op_us")
summary = {}
for label, rs in runs.items():
    cpus = [c for c in map(cpu, rs) if c is not None]
    rates = [r.get("throughput_per_s") or 0 for r in rs]
    p99 = [((r.get("latency_us") or {}).get("p99") or 0) for r in rs]
    summary[label] = {
        "runs": len(rs),
        "cpu_us_median": round(statistics.median(cpus), 2) if cpus else None,
        "cpu_us_all": [round(c, 1) for c in cpus],
        "rate_median": round(statistics.median(rates)) if rates else None,
        "p99_us_median": round(statistics.median(p99)) if p99 else None,
        "errors": sum(r.get("errors", 0) for r in rs),
    }
o, n = summary["old"]["cpu_us_median"], summary["new"]["cpu_us_median"]
if o and n:
    summary["new_over_old_cpu"] = round(n / o, 3)
print(json.dumps(summary))
'
