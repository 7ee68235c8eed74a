#!/usr/bin/env bash
# The soak (issue 23, item 3): one node, then three on Redis behind nginx
# round-robin, under mixed load for a while, sampled every interval, plotted
# and held to growth bounds.
#
#   scripts/soak.sh [BINARY] [--minutes M] [--nodes 1|3|both] [--out DIR] [--concurrent]
#
# BINARY defaults to target/debug/switchboard. --minutes (env SOAK_MINUTES,
# default 2: the short form CI runs) is the load time of each phase; the
# full form is --minutes 60. --nodes both (the default) runs the one-node
# phase and then the three-node one, or both at once with --concurrent
# (env SOAK_CONCURRENT=1; separate ports, the three-node phase's own Redis).
# --out (env SOAK_OUT, default target/soak) is where it writes:
#
#   <out>/<phase>/samples.csv   every sample (phase one-node or three-node)
#   <out>/<phase>/*.png         the plots (matplotlib, Agg)
#   <out>/<phase>/…             node logs, config, load counters, bench JSON
#   <out>/report.md             figures per metric and node, pass/fail per bound
#
# Exits non-zero when a bound fails (or a phase could not run).
#
# The load, per phase (one node: memory store; three nodes: store = "redis"
# on one redis-server, load through nginx running deploy/nginx/switchboard.conf):
#   - calls: `switchboard bench calls`, 10 session-era (2025-11-25) clients
#     and 5 stateless (2026-07-28) ones calling slow_compute (50 ms): about
#     300 calls/s;
#   - tests/soak/load.py: 24 sessions holding GET streams (calls with
#     progress and logging every few seconds, one Last-Event-ID resumption
#     and a new session every 1-3 min (15-35 s in the short form, so its
#     warm-up reaches the steady state), a tool-list change broadcast every
#     20 s), session churn (10 sessions a second: initialize, two calls,
#     DELETE) and task-augmented calls (0.5/s);
#   - a reload (SIGHUP) every SOAK_RELOAD_SECS (default 50 s short, 300 s
#     from 30 minutes on), alternating between two configurations: the
#     second adds a stdio upstream (`switchboard stdio`, shared) and
#     changes a tenant's rate, so each reload starts or ends a process and
#     sends tools/list_changed to every GET stream.
# Sampling: RSS, open fds, threads (/proc), sessions, streams, event-log
# bytes, connections (/metrics); with Redis its memory, event-log streams
# (count, entries, bytes), task records and live sessions. Every
# SOAK_INTERVAL seconds (default 10 short, 60 from 30 minutes on). The first
# SOAK_WARMUP_SECS of load (default 45 s short, 600 s from 30 minutes on)
# are the warm-up; after the load SOAK_COOLDOWN_SECS (default 45 s, 90 s
# from 30 minutes on) pass before the final sample. Bounds: tests/soak/report.py.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=$ROOT/.tools/venv/bin/python
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

BIN=$ROOT/target/debug/switchboard
MINUTES=${SOAK_MINUTES:-2}
NODES=both
OUT=${SOAK_OUT:-$ROOT/target/soak}
CONCURRENT=${SOAK_CONCURRENT:-0}
while (($#)); do
  case $1 in
    --minutes) MINUTES=$2; shift 2 ;;
    --nodes) NODES=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --concurrent) CONCURRENT=1; shift ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "soak: unknown option $1" >&2; exit 2 ;;
    *) BIN=$1; shift ;;
  esac
done
[[ $MINUTES =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "soak: --minutes must be a number" >&2; exit 2; }
case $NODES in
  both) PHASES="one-node three-node" ;;
  1) PHASES=one-node ;;
  3) PHASES=three-node ;;
  *) echo "soak: --nodes 1, 3 or both" >&2; exit 2 ;;
esac
[[ $OUT == /* ]] || OUT=$PWD/$OUT
LOAD_SECS=$(python3 -c "print(int(float('$MINUTES') * 60))")
LONG=$((LOAD_SECS >= 1800))
if ((LONG)); then d_interval=60 d_reload=300 d_warmup=600 d_cool=90 chunk=600 life=60:180
else d_interval=10 d_reload=50 d_warmup=45 d_cool=45 chunk=$LOAD_SECS life=15:35; fi
INTERVAL=${SOAK_INTERVAL:-$d_interval}
RELOAD_SECS=${SOAK_RELOAD_SECS:-$d_reload}
WARMUP_SECS=${SOAK_WARMUP_SECS:-$d_warmup}
COOLDOWN_SECS=${SOAK_COOLDOWN_SECS:-$d_cool}

need() { command -v "$1" >/dev/null || [[ -x $1 ]] || { echo "soak: $1 is missing ($2)" >&2; exit 2; }; }
need "$BIN" "build it: cargo build"
need "$PY" "scripts/tools.sh makes the venv"
"$PY" -c 'import matplotlib, httpx2' 2>/dev/null \
  || { echo "soak: matplotlib or httpx2 missing in the venv: scripts/tools.sh" >&2; exit 2; }
if [[ $PHASES == *three-node* ]]; then
  need redis-server "scripts/tools.sh installs it"; need redis-cli "scripts/tools.sh"; need "$NGINX" "scripts/tools.sh"
fi

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now() { python3 -c 'import time; print(f"{time.time():.1f}")'; }

# wait_up URL PID NAME LOG: until URL answers, or fail if PID exits.
wait_up() {
  for _ in $(seq 200); do
    curl -s -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { tail -20 "$4" >&2; echo "soak: $3 exited" >&2; return 1; }
    sleep 0.1
  done
  echo "soak: $3 did not come up" >&2
  return 1
}

# write_config FILE VARIANT: the node configuration; variant b adds a stdio
# upstream and changes the tenant's rate, so a reload between them is a
# real change (an upstream process started or ended, list_changed sent).
write_config() {
  local file=$1 variant=$2
  {
    cat <<CONF
# Written by scripts/soak.sh (variant $variant); reloaded by SIGHUP only.
config_watch = false
task_ttl_secs = 120
CONF
    if [[ $STORE == redis ]]; then
      cat <<CONF
store = "redis"
redis_url = "$REDIS_URL"
redis_prefix = "soak"
CONF
    fi
    cat <<CONF

[[tenants]]
id = "reloaded"
api_keys = [{ id = "soak", sha256 = "a4c1a932b41931ad0634789b1a1009a3460c33d55f4651519d4a09868c9ae0e7" }]
rate = { per_second = $([[ $variant == a ]] && echo 20 || echo 30), burst = 40 }

[[upstreams]]
name = "builtin"
kind = "builtin"
prefix = ""
CONF
    if [[ $variant == b ]]; then
      cat <<CONF

[[upstreams]]
name = "extra"
command = "$BIN"
args = ["stdio"]
env = { SWITCHBOARD_LOG_FORMAT = "json", RUST_LOG = "warn" }
mode = "shared"
processes = 1
prefix = "extra__"
CONF
    fi
  } >"$file.tmp"
  mv "$file.tmp" "$file"
}

# phase NAME: one soak phase in $OUT/NAME; returns non-zero if it could not run.
phase() {
  local name=$1 dir=$OUT/$1 n nodes=() node_pids=() metrics=() port fport url
  local t0 load_start load_end reloads=0 variant=a rc=0
  rm -rf "$dir"; mkdir -p "$dir"
  exec 3>&1 >"$dir/soak.log" 2>&1
  cleanup_phase() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
  }
  # `pids` is not local: the EXIT trap runs after this function returned
  # (phase runs in a subshell of its own, so a global is the phase's), and
  # a local would be gone then — every process of the phase was left running.
  pids=()
  trap cleanup_phase EXIT
  t0=$(now)
  local count=1 STORE=memory REDIS_URL=
  if [[ $name == three-node ]]; then
    count=3 STORE=redis
    local rport; rport=$(free_port)
    redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$dir/redis.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do [[ $(redis-cli -p "$rport" ping 2>/dev/null) == PONG ]] && break; sleep 0.1; done
    REDIS_URL=redis://127.0.0.1:$rport
  fi
  write_config "$dir/switchboard.toml" a
  local sealing; sealing=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
  for n in $(seq "$count"); do
    port=$(free_port)
    SWITCHBOARD_ADVERTISE_URL="http://127.0.0.1:$port/mcp" SWITCHBOARD_ADMIN__NODE_ID="soak-$name-$n" \
      SWITCHBOARD_SEALING_KEY=$sealing SWITCHBOARD_LOG_FORMAT=json RUST_LOG=${RUST_LOG:-info} \
      "$BIN" serve --config "$dir/switchboard.toml" --listen "127.0.0.1:$port" >"$dir/node$n.log" 2>&1 &
    pids+=($!) node_pids+=($!)
    wait_up "http://127.0.0.1:$port/healthz" "$!" "node $n" "$dir/node$n.log" || return 1
    nodes+=("127.0.0.1:$port")
    metrics+=(--node "node$n:$!:http://127.0.0.1:$port/metrics")
  done
  url=http://${nodes[0]}/mcp
  if ((count > 1)); then
    mkdir -p "$dir/nginx"
    fport=$(free_port)
    "$ROOT/scripts/nginx-front.sh" "127.0.0.1:$fport" "${nodes[@]}" >"$dir/nginx/switchboard.conf" || return 1
    cat >"$dir/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/nginx/body;
  proxy_temp_path $dir/nginx/proxy;
  fastcgi_temp_path $dir/nginx/fastcgi;
  uwsgi_temp_path $dir/nginx/uwsgi;
  scgi_temp_path $dir/nginx/scgi;
  include $dir/nginx/switchboard.conf;
}
CONF
    "$NGINX" -p "$dir/nginx" -c "$dir/nginx/nginx.conf" 2>"$dir/nginx/stderr.log" &
    pids+=($!)
    wait_up "http://127.0.0.1:$fport/healthz" "$!" nginx "$dir/nginx/stderr.log" || return 1
    url=http://127.0.0.1:$fport/mcp
    metrics+=(--redis "${REDIS_URL##*:}:soak")
  fi
  echo "soak $name: $count node(s) (${nodes[*]}), store $STORE, load at $url, ${MINUTES} min, samples every ${INTERVAL}s"

  # Baseline: idle nodes, a few samples.
  local samp=(--out "$dir/samples.csv" --t0 "$t0" "${metrics[@]}")
  echo baseline >"$dir/stage"
  for _ in 1 2 3; do "$PY" "$ROOT/tests/soak/sample.py" "${samp[@]}" --once --stage baseline; sleep 2; done
  echo load >"$dir/stage"
  "$PY" "$ROOT/tests/soak/sample.py" "${samp[@]}" --stage-file "$dir/stage" \
    --stop-file "$dir/stop" --interval "$INTERVAL" &
  local sampler=$!
  pids+=($sampler)

  load_start=$(now)
  local end=$((SECONDS + LOAD_SECS))
  # Calls: bench, in chunks (it runs at most an hour), both eras.
  local loaders=()
  for era in legacy:10 modern:5; do
    (
      while ((SECONDS < end)); do
        left=$((end - SECONDS)); ((left > chunk)) && left=$chunk
        ((left >= 2)) || break
        "$BIN" bench calls --url "$url" --era "${era%:*}" --sessions "${era#*:}" --tool slow_compute \
          --arguments '{"seconds":0.05}' --duration "${left}s" --no-progress --json \
          >>"$dir/bench-${era%:*}.jsonl" 2>>"$dir/bench-${era%:*}.log" || echo "bench exited $?" >>"$dir/bench-${era%:*}.log"
      done
    ) &
    loaders+=($!) pids+=($!)
  done
  "$PY" "$ROOT/tests/soak/load.py" --url "$url" --duration "$LOAD_SECS" --streams 24 --churn 10 \
    --tasks 0.5 --session-life "$life" --stats "$dir/load.json" 2>"$dir/load.log" &
  loaders+=($!) pids+=($!)

  # Reloads while the load runs.
  local next_reload=$((SECONDS + RELOAD_SECS))
  while ((SECONDS < end)); do
    sleep 1
    if ((SECONDS >= next_reload && SECONDS < end - 5)); then
      next_reload=$((SECONDS + RELOAD_SECS))
      [[ $variant == a ]] && variant=b || variant=a
      write_config "$dir/switchboard.toml" "$variant"
      for p in "${node_pids[@]}"; do kill -HUP "$p" 2>/dev/null || true; done
      reloads=$((reloads + 1))
      echo "$(now) $variant" >>"$dir/reloads.txt"
      echo "reload $reloads (variant $variant)"
    fi
  done
  for p in "${loaders[@]}"; do wait "$p" || rc=1; done
  load_end=$(now)
  ((rc == 0)) || echo "soak $name: a load generator failed (see $dir/load.log, bench-*.log)"
  echo cooldown >"$dir/stage"
  sleep "$COOLDOWN_SECS"
  touch "$dir/stop"; wait "$sampler" || true
  "$PY" "$ROOT/tests/soak/sample.py" "${samp[@]}" --once --stage after

  local applied=0
  for n in $(seq "$count"); do
    applied=$((applied + $(grep -c 'configuration reloaded' "$dir/node$n.log" || true)))
  done
  cat >"$dir/meta.json" <<JSON
{"phase": "$name", "nodes": $count, "store": "$STORE", "binary": "$BIN",
 "binary_source": "$BIN_SOURCE", "binary_mtime": "$BIN_MTIME",
 "build": "$([[ $BIN_SOURCE == */release/* ]] && echo release || echo debug)",
 "minutes": $MINUTES, "interval_secs": $INTERVAL, "warmup_secs": $WARMUP_SECS,
 "cooldown_secs": $COOLDOWN_SECS, "reload_secs": $RELOAD_SECS, "t0": $t0,
 "load_start": $(python3 -c "print($load_start - $t0)"), "load_end": $(python3 -c "print($load_end - $t0)"),
 "reloads_sent": $reloads, "reloads_applied": $applied, "concurrent": $CONCURRENT,
 "load_generators_ok": $([[ $rc == 0 ]] && echo true || echo false)}
JSON
  echo "soak $name: done ($reloads reloads sent, $applied applied across nodes)"
  exec 1>&3 3>&-
  return 0
}

mkdir -p "$OUT"
rm -f "$OUT/report.md"
# Run a copy: a rebuild of BINARY during a long run must not take it away
# from the bench chunks and the reload's stdio upstream started later.
BIN_SOURCE=$BIN
BIN_MTIME=$(date -u -r "$BIN" +%Y-%m-%dT%H:%M:%SZ)
cp "$BIN" "$OUT/switchboard.soak.tmp" && mv "$OUT/switchboard.soak.tmp" "$OUT/switchboard"
BIN=$OUT/switchboard
status=0
if ((CONCURRENT)); then
  ppids=()
  for p in $PHASES; do (phase "$p") & ppids+=($!); done
  for p in "${ppids[@]}"; do wait "$p" || status=1; done
else
  for p in $PHASES; do (phase "$p") || status=1; done
fi
for p in $PHASES; do tail -3 "$OUT/$p/soak.log" 2>/dev/null || true; done
dirs=()
for p in $PHASES; do [[ -f $OUT/$p/meta.json ]] && dirs+=("$OUT/$p") || { echo "soak: phase $p did not finish" >&2; status=1; }; done
if ((${#dirs[@]})); then
  "$PY" "$ROOT/tests/soak/report.py" --out "$OUT/report.md" "${dirs[@]}" || status=1
fi
echo "soak: report in $OUT/report.md"
exit "$status"
