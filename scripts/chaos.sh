#!/usr/bin/env bash
# A chaos run (issue 23): three `switchboard serve` nodes on one Redis
# (appendonly, restarted on its AOF) behind a round-robin nginx, each with a
# builtin, a stdio and an HTTP upstream, under a few hundred clients of every
# era (the official Python SDK's among them), while a fault schedule drawn
# from the seed kills, stops, drains and restarts nodes, Redis and upstreams.
# The invariants are checked from the recorded history (tests/chaos/check.py):
# every request answered once in time, events delivered once and in order
# across resumptions, tasks not lost (at least once, visibly), no orphaned
# process, no session left open, quotas held cluster-wide, RSS back.
#
#   scripts/chaos.sh [SWITCHBOARD_BINARY] [--seed N] [--minutes M] [--clients C] [--no-resume]
#
# The seed is printed first: `--seed N` replays a schedule. Minutes default
# to CHAOS_MINUTES or 5 (the CI length; the full run is 30). Clients default
# to CHAOS_CLIENTS or 200. `--no-resume` is the experiment that proves the
# checker can fail: GET streams reconnect without Last-Event-ID.
# Writes target/chaos/<seed>/report.md and history.jsonl (logs in run/);
# exits non-zero if an invariant failed. Needs redis-server, redis-cli, nginx
# and the Python venv of scripts/tools.sh (.tools/venv).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/target/debug/switchboard
SEED=
MINUTES=${CHAOS_MINUTES:-5}
EXTRA=()
while (($#)); do
  case $1 in
    --seed) SEED=$2; shift 2 ;;
    --seed=*) SEED=${1#*=}; shift ;;
    --minutes) MINUTES=$2; shift 2 ;;
    --minutes=*) MINUTES=${1#*=}; shift ;;
    --clients) EXTRA+=(--clients "$2"); shift 2 ;;
    --no-resume) EXTRA+=(--no-resume); shift ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    -*) echo "chaos: unknown option $1" >&2; exit 2 ;;
    *) BIN=$1; shift ;;
  esac
done
SEED=${SEED:-${CHAOS_SEED:-$(( (RANDOM << 15 | RANDOM) % 1000000 ))}}
echo "chaos: seed $SEED (replay: scripts/chaos.sh $BIN --seed $SEED --minutes $MINUTES)"
PY=$ROOT/.tools/venv/bin/python
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
for need in redis-server redis-cli "$NGINX" "$PY"; do
  command -v "$need" >/dev/null || { echo "chaos: $need is missing (scripts/tools.sh installs it)" >&2; exit 2; }
done
[[ -x $BIN ]] || { echo "chaos: no binary at $BIN (cargo build -p switchboard)" >&2; exit 2; }
exec "$PY" "$ROOT/tests/chaos/run.py" --binary "$BIN" --seed "$SEED" --minutes "$MINUTES" "${EXTRA[@]}"
