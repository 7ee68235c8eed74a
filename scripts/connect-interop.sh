#!/usr/bin/env bash
# `switchboard connect URL` between the Python SDK's stdio client and a
# remote Switchboard (file store, API keys only): tools, progress,
# sampling, elicitation, cancellation in both eras; the remote killed with
# SIGKILL and started again while a call is pending. See
# tests/interop/python/connect_client.py.
#
#   scripts/connect-interop.sh [BINARY]     default target/debug/switchboard
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/target/debug/switchboard}
PY=$ROOT/.tools/venv/bin/python
[[ -x $PY ]] || { echo "connect interop: .tools/venv missing, run scripts/tools.sh first" >&2; exit 2; }

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

dir=$(mktemp -d)
cleanup() {
  [[ -f $dir/remote.pid ]] && { kill -9 "$(cat "$dir/remote.pid")" 2>/dev/null || true; }
  rm -rf "$dir"
}
trap cleanup EXIT

out=$("$BIN" keys new --tenant desk --id laptop)
key=$(awk '/^    [^ ]/ && !/=/ { print $1; exit }' <<<"$out")
keyline=$(grep -E '^ *api_keys = ' <<<"$out" | sed 's/^ *//')
port=$(free_port)
cat >"$dir/remote.toml" <<TOML
listen = "127.0.0.1:$port"
store = "file"
store_path = "$dir/remote.redb"
shutdown_grace_secs = 1

[auth]
anonymous = "off"

[[tenants]]
id = "desk"
$keyline
TOML
log=$ROOT/target/switchboard-connect-remote.log
: >"$log"
# start: the remote in the background, its pid in remote.pid, waiting
# until it answers.
cat >"$dir/start.sh" <<SH
#!/bin/sh
"$BIN" serve --config "$dir/remote.toml" >>"$log" 2>&1 &
echo \$! >"$dir/remote.pid"
i=0
while [ \$i -lt 100 ]; do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && exit 0
  sleep 0.1; i=\$((i + 1))
done
echo "the remote did not start" >&2; exit 1
SH
chmod +x "$dir/start.sh"
"$dir/start.sh"
restart="kill -9 \$(cat $dir/remote.pid); sleep 0.5; $dir/start.sh"

rc=0
timeout 400 "$PY" "$ROOT/tests/interop/python/connect_client.py" "$BIN" "http://127.0.0.1:$port/mcp" "$key" "$restart" \
  2>&1 | sed -u 's/^/[connect] /' || rc=1
[[ ${PIPESTATUS[0]} == 0 ]] || rc=1
if (( rc == 0 )); then echo "connect interop: PASS"; else echo "connect interop: FAIL (remote log: $log)"; fi
exit "$rc"
