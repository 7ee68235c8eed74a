# The one opt-out of the test command's real parts, sourced by
# scripts/tools.sh, scripts/test.sh and scripts/dashboard-e2e.sh.
#
#   SB_TEST_SKIP=redis,nginx,chromium scripts/test.sh
#
# names the parts a developer cannot install (no root, no sudo); it is not
# SWITCHBOARD_…, which `switchboard serve` reads as configuration keys (and
# refuses unknown ones). Nothing is skipped otherwise: without a part the
# tests that need it fail. A skipped part's tests are left out by the
# runner (the Rust test binaries by a nextest filter, the script steps by
# test.sh) and counted in the summary; .ci/run refuses the variable.
#
#   redis     redis-server and redis-cli: the Rust tests that start Redis
#             (every test file using RedisProcess or RedisCluster), the
#             dashboard's second node, the cluster conformance step
#   nginx     the round-robin front of the cluster conformance step
#   chromium  the dashboard end-to-end step

SKIPPABLE_PARTS=(redis nginx chromium)

# skip_parts: the parts named in SB_TEST_SKIP, one a line; exits
# (status 2) on a name that is not a part.
skip_parts() {
  local part known k list=${SB_TEST_SKIP:-}
  for part in ${list//,/ }; do
    known=
    for k in "${SKIPPABLE_PARTS[@]}"; do [[ $part == "$k" ]] && known=1; done
    if [[ -z $known ]]; then
      echo "SB_TEST_SKIP: unknown part '$part' (known: ${SKIPPABLE_PARTS[*]})" >&2
      exit 2
    fi
    echo "$part"
  done
}

# skipping PART: whether SB_TEST_SKIP names PART.
skipping() {
  local part list=${SB_TEST_SKIP:-}
  for part in ${list//,/ }; do [[ $part == "$1" ]] && return 0; done
  return 1
}
