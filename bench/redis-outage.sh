#!/usr/bin/env bash
# Issue 7, acceptance 4: Redis killed with SIGKILL and restarted under load
# against one release node; one JSON line per round (bench/redis-outage.py
# says what each field means).
#
#   bench/redis-outage.sh [ROUNDS]            (default 1)
#   OUTAGE_ARGS="--sessions 50 --down 5" bench/redis-outage.sh 3
#   OUTAGE_BIN=/path/to/switchboard            (another binary)
#
# Needs a release build (cargo build --release -p switchboard), redis-server
# and python3. Everything listens on 127.0.0.1 (free ports); Redis's
# append-only file goes to a temporary directory removed at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SB=${OUTAGE_BIN:-$ROOT/target/release/switchboard}
for need in "$SB" redis-server python3; do
  command -v "$need" >/dev/null || { echo "redis-outage: $need is missing" >&2; exit 2; }
done
ulimit -n 65536 2>/dev/null || true
for _ in $(seq "${1:-1}"); do
  # shellcheck disable=SC2086 # OUTAGE_ARGS is a list of options
  python3 "$ROOT/bench/redis-outage.py" --bin "$SB" ${OUTAGE_ARGS:-}
done
