#!/usr/bin/env bash
# Print deploy/nginx/switchboard.conf (the load balancer config of
# docs/deployment.md) for a test: its upstream servers replaced by NODE...
# and its `listen` by LISTEN, every other line as it is. scripts/cluster.sh
# and bench/stores.sh include the result in their own nginx.conf, so the
# example is the config the tests run.
#
#   scripts/nginx-front.sh LISTEN NODE...   e.g. 127.0.0.1:9000 127.0.0.1:9001 127.0.0.1:9002
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
(($# >= 2)) || { echo "usage: scripts/nginx-front.sh LISTEN NODE..." >&2; exit 2; }
listen=$1
shift
awk -v listen="$listen" -v nodes="$*" '
  /^upstream switchboard \{/ { inside = 1 }
  inside && /^ *server / {
    if (!servers++) { n = split(nodes, a, " "); for (i = 1; i <= n; i++) printf "    server %s;\n", a[i] }
    next
  }
  inside && /^\}/ { inside = 0 }
  /^ *listen [^;]*;/ { sub(/listen [^;]*;/, "listen " listen ";"); listens++ }
  { print }
  END {
    if (servers == 0 || listens != 1) {
      print "nginx-front: deploy/nginx/switchboard.conf needs `upstream switchboard` with servers and one listen" > "/dev/stderr"
      exit 1
    }
  }
' "$ROOT/deploy/nginx/switchboard.conf"
