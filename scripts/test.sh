#!/usr/bin/env bash
# The one test command (README, CI): installs the missing test tooling, then
#   1. cargo fmt --check, clippy -D warnings, rustdoc -D warnings
#   2. the Rust test suite (unit, in-process end-to-end)
#   3. the official MCP conformance suite and the SDK interop clients against
#      a freshly built `switchboard serve` on a free loopback port.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

step() { printf '\n=== %s ===\n' "$*"; }

step "tooling"
scripts/tools.sh

step "format"
cargo fmt --all --check

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

step "server for the external suites"
cargo build --locked -p switchboard --quiet
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port/mcp"
log=$ROOT/target/switchboard-test-server.log
target/debug/switchboard serve --listen "127.0.0.1:$port" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { cat "$log"; echo "server exited" >&2; exit 1; }
  sleep 0.1
done
echo "switchboard serving at $url (log: $log)"

status=0
step "conformance"
scripts/conformance.sh "$url" || status=1
step "interop"
scripts/interop.sh "$url" || status=1

step "graceful stop"
kill -TERM $server
if wait $server; then echo "server exited 0 on SIGTERM"; else echo "server exited $? on SIGTERM" >&2; status=1; fi
trap - EXIT

exit $status
