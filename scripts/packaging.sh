#!/usr/bin/env bash
# The packaging checks (a step of scripts/test.sh; docs/install.md): the
# container image, the Debian package and the Kubernetes manifests, each
# built from or checked against BINARY.
#
#   scripts/packaging.sh BINARY      (as root: podman's storage, dpkg -i)
#
#   image       scripts/image.sh builds the image offline (podman, the runtime
#               stage of packaging/container/Dockerfile). Its filesystem: the
#               user is not root, no shell, package manager or compiler, only
#               the binary, the probe and their libraries are executable, and
#               the image's own binary accepts the baked config (chroot as the
#               image's user). Then, where this machine lets containers run,
#               it runs with a mounted config file and SWITCHBOARD_* env; the
#               Python SDK calls echo through it in both eras
#               (packaging/tests/echo_client.py); its HEALTHCHECK passes; it
#               runs as uid 65532; `podman stop` drains it to exit 0. Where
#               containers cannot run, a SKIP line says so and why.
#   deb         scripts/deb.sh builds the package; dpkg -i installs it;
#               systemd-analyze verify finds nothing to say about the unit
#               (and its offline security exposure is printed); the unit's
#               ExecStart runs as its User with its EnvironmentFile and
#               WorkingDirectory (this machine's PID 1 is not systemd, so not
#               `systemctl start`; SWITCHBOARD_LISTEN moves it to a free
#               port); it serves echo to the Python SDK in both eras, keeps
#               its sessions in the StateDirectory, reloads on SIGHUP (a
#               tenant added to the file works after it), drains on SIGTERM
#               to exit 0; started again, `dpkg -r` stops it and `dpkg
#               --purge` removes the rest, leaving no process.
#   kubernetes  `kubectl kustomize` renders deploy/kubernetes/base and both
#               overlays; packaging/tests/k8s_check.py checks each rendered
#               workload against BINARY (check-config of the ConfigMap's file
#               with the pods' environment, ports, probes, grace, PDB, store,
#               then serve with them: every probe path and port answers). The
#               cluster overlay runs on a throwaway redis-server.
#
# Every check prints one PASS, FAIL or SKIP line; the last line says
# whether all passed. Exits 1 if any check failed.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
# shellcheck source=scripts/skip.sh
source "$ROOT/scripts/skip.sh"

(($# == 1)) || { echo "usage: scripts/packaging.sh BINARY" >&2; exit 2; }
BINARY=$(realpath "$1")
[[ -x $BINARY ]] || { echo "packaging.sh: $1 is not an executable" >&2; exit 2; }
VENV_PY=$ROOT/.tools/venv/bin/python
IMAGE=localhost/switchboard:packaging-test
CONTAINER=switchboard-packaging-$$

passed=0 failed=0 skipped=0
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
skip() { echo "SKIP $*"; skipped=$((skipped + 1)); }
check() { # check NAME DETAIL CMD...: PASS or FAIL by CMD's status
  local name=$1 detail=$2
  shift 2
  if "$@"; then pass "$name${detail:+: $detail}"; else fail "$name${detail:+: $detail}"; fi
}
section() { printf '\n--- %s ---\n' "$*"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
hex32() { python3 -c 'import secrets; print(secrets.token_hex(32))'; }

# counted PREFIX CMD...: run a checker whose lines start PASS/FAIL/SKIP, put
# PREFIX after that word, count them; a non-zero exit without a FAIL line
# counts as one.
counted() {
  local prefix=$1 out rc p f s
  shift
  out=$(mktemp)
  "$@" 2>&1 | sed -u -E "s#^(PASS|FAIL|SKIP) #\\1 $prefix#" | tee "$out"
  rc=${PIPESTATUS[0]}
  p=$(grep -c '^PASS ' "$out")
  f=$(grep -c '^FAIL ' "$out")
  s=$(grep -c '^SKIP ' "$out")
  rm -f "$out"
  passed=$((passed + p)) skipped=$((skipped + s)) failed=$((failed + f))
  if ((rc != 0 && f == 0)); then fail "${prefix}exited with status $rc"; fi
  return "$rc"
}

# wait_http URL [SECONDS] [PID]: until URL answers 200 (false if PID exits first).
wait_http() {
  local i
  for ((i = 0; i < ${2:-20} * 10; i++)); do
    curl -fs -o /dev/null "$1" 2>/dev/null && return 0
    [[ -z ${3:-} ]] || kill -0 "$3" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# new_key TENANT ID: sets $key (the API key) and $keyline (its api_keys line).
new_key() {
  local out
  out=$("$BINARY" keys new --tenant "$1" --id "$2") || return 1
  key=$(awk '/^    [^ ]/ && !/=/ { print $1; exit }' <<<"$out")
  keyline=$(grep -E '^ *api_keys = ' <<<"$out" | sed 's/^ *//')
  [[ -n $key && -n $keyline ]]
}

work=$(mktemp -d)
redis_pid='' deb_pid='' image_built='' deb_installed=''
cleanup() {
  [[ -z $deb_pid ]] || { kill -TERM "$deb_pid" 2>/dev/null; wait "$deb_pid" 2>/dev/null; }
  [[ -z $redis_pid ]] || { kill "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null; }
  if command -v podman >/dev/null; then
    podman rm -f -t 0 "$CONTAINER" >/dev/null 2>&1
    [[ -z $image_built ]] || { podman image unmount "$IMAGE" >/dev/null 2>&1; podman rmi -f "$IMAGE" >/dev/null 2>&1; }
  fi
  [[ -z $deb_installed ]] || dpkg --purge switchboard >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

started=$(date +%s)
echo "packaging.sh: checking the image, the Debian package and the Kubernetes manifests with $BINARY"
[[ $(id -u) == 0 ]] || echo "packaging.sh: not root: podman's system storage and dpkg -i need root; those checks will fail"
[[ -x $VENV_PY ]] || echo "packaging.sh: no $VENV_PY (scripts/tools.sh makes it): the Python SDK checks will fail"

# ---------------------------------------------------------------- image ---
# run_flags: the podman run flags this machine needs to start a container,
# found by trying (/usr/bin/switchboard --version); sets $run_flags, or
# $run_error and returns 1. crun refuses cgroup v1/v2 hybrid hosts and a
# process without CAP_SYS_RESOURCE cannot raise rlimits to podman's
# defaults; runc with explicit limits at most the current ones may work.
run_flags() {
  local hard flags out
  hard=$(ulimit -Hn)
  [[ $hard == unlimited ]] && hard=1048576
  local tries=(
    ""
    "--ulimit nofile=$hard:$hard --ulimit nproc=4096:4096"
    "--runtime runc --ulimit nofile=$hard:$hard --ulimit nproc=4096:4096"
  )
  run_error=
  for flags in "${tries[@]}"; do
    [[ $flags != *runc* ]] || command -v runc >/dev/null || continue
    # shellcheck disable=SC2086  # flags are words
    if out=$(timeout 60 podman run --rm $flags "$IMAGE" --version 2>&1) && grep -q '^switchboard ' <<<"$out"; then
      run_flags=$flags
      return 0
    fi
    run_error+="${run_error:+; }podman run ${flags:-(no flags)}: $(tail -n1 <<<"$out")"
  done
  return 1
}

image_filesystem() {
  local mnt user uid execs bad f cfg
  user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
  uid=${user%%:*}
  check "image: runs as a non-root user" "USER $user" test -n "$uid" -a "$uid" != 0 -a "$uid" != root
  mnt=$(podman image mount "$IMAGE") || { fail "image: podman image mount"; return; }
  check "image: the user has a passwd entry" "$(grep -E "^[^:]*:[^:]*:$uid:" "$mnt/etc/passwd" | cut -d: -f1,3,4,6)" \
    grep -qE "^[^:]*:[^:]*:$uid:" "$mnt/etc/passwd"
  bad=$(cd "$mnt" && find . \( -type f -o -type l \) \( -name sh -o -name bash -o -name dash -o -name busybox \
    -o -name 'apt*' -o -name 'dpkg*' -o -name 'gcc*' -o -name cc -o -name 'g++*' -o -name 'clang*' -o -name 'c++' \
    -o -name rustc -o -name cargo -o -name ld -o -name 'ld.bfd' -o -name as -o -name make -o -name 'python*' \
    -o -name perl -o -name 'pip*' -o -name curl -o -name wget \) -print | sort | tr '\n' ' ')
  check "image: no shell, package manager, compiler or downloader" "${bad:-none found}" test -z "$bad"
  check "image: no package database" "" test ! -e "$mnt/var/lib/dpkg" -a ! -e "$mnt/var/lib/apt"
  execs=$(cd "$mnt" && find . -type f -perm /111 | sort | tr '\n' ' ')
  bad=
  for f in $execs; do
    case $f in
      ./usr/bin/switchboard | ./lib/*.so* | ./lib64/*.so* | ./usr/lib/*.so*) ;;
      *) bad+="$f " ;;
    esac
  done
  check "image: executable files are the binary and shared libraries" "$execs" test -z "$bad"
  if cfg=$(chroot --userspec="$user" "$mnt" /usr/bin/switchboard check-config /etc/switchboard/switchboard.toml 2>&1); then
    pass "image: its own binary, as uid $uid, accepts the baked /etc/switchboard/switchboard.toml ($(grep -m1 -E '^listen = ' <<<"$cfg"))"
  else
    fail "image: check-config of the baked config: $(tail -n3 <<<"$cfg")"
  fi
  check "image: the baked config listens on 0.0.0.0:8080" "" grep -qx 'listen = "0.0.0.0:8080"' <<<"$cfg"
  check "image: the HEALTHCHECK is the binary's own health command" "$(podman image inspect --format '{{json .HealthCheck.Test}}' "$IMAGE")" \
    test "$(podman image inspect --format '{{json .HealthCheck.Test}}' "$IMAGE")" == '["CMD","/usr/bin/switchboard","health"]'
  check "image: entrypoint switchboard serve --config /etc/switchboard/switchboard.toml" "" \
    test "$(podman image inspect --format '{{json .Config.Entrypoint}} {{json .Config.Cmd}}' "$IMAGE")" \
    == '["/usr/bin/switchboard"] ["serve","--config","/etc/switchboard/switchboard.toml"]'
  podman image unmount "$IMAGE" >/dev/null
}

# image_run: the image started as a deployment would (read-only root, no
# capabilities, no new privileges) with a config file mounted over the baked
# one and SWITCHBOARD_* variables over both. It shares the host's network
# namespace so that every packet stays on loopback (this machine's rule for
# tests): SWITCHBOARD_LISTEN moves the listener from 0.0.0.0:8080 to a free
# loopback port, and the HEALTHCHECK probe follows that variable. Publishing
# with -p 8080:8080 on a bridge works the same way (docs/install.md).
image_run() {
  local port dir pid uid mode st health rc logs health_flags=()
  port=$(free_port)
  dir=$work/container
  mkdir -p "$dir"
  new_key packaging image || { fail "image: switchboard keys new"; return; }
  # The mounted file: anonymous clients refused (as off loopback), one tenant.
  printf 'listen = "0.0.0.0:8080"\n\n[auth]\nanonymous = "off"\n\n[[tenants]]\nid = "packaging"\n%s\n' "$keyline" \
    >"$dir/switchboard.toml"
  chmod 0644 "$dir/switchboard.toml"
  # Without systemd podman cannot schedule the HEALTHCHECK (its timers are
  # systemd units); `podman healthcheck run` below runs it by hand.
  [[ -d /run/systemd/system ]] || health_flags=(--health-interval=disable)
  # shellcheck disable=SC2086  # run_flags are words
  if ! podman run -d --name "$CONTAINER" $run_flags "${health_flags[@]}" --network host \
    --read-only --cap-drop=ALL --security-opt=no-new-privileges \
    -v "$dir/switchboard.toml:/etc/switchboard/switchboard.toml:ro" \
    -e SWITCHBOARD_LISTEN="127.0.0.1:$port" -e SWITCHBOARD_SEALING_KEY="$(hex32)" \
    -e SWITCHBOARD_SHUTDOWN_GRACE_SECS=5 \
    "$IMAGE" >/dev/null 2>"$work/podman-run.err"; then
    cat "$work/podman-run.err"
    fail "image: podman run -d"
    return
  fi
  if ! wait_http "http://127.0.0.1:$port/healthz" 30; then
    fail "image: the container serves /healthz"
    podman logs "$CONTAINER" 2>&1 | tail -20
    return
  fi
  pass "image: the container (read-only root, no capabilities) serves /healthz on 127.0.0.1:$port"
  pid=$(podman inspect --format '{{.State.Pid}}' "$CONTAINER")
  uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
  check "image: the server process runs as uid 65532" "uid $uid" test "$uid" = 65532
  # The mounted file and the env, as the container's own binary reads them (exec form: no shell).
  if out=$(podman exec "$CONTAINER" /usr/bin/switchboard check-config /etc/switchboard/switchboard.toml 2>/dev/null) \
    && grep -qx 'shutdown_grace_secs = 5' <<<"$out" && grep -qx 'id = "packaging"' <<<"$out" \
    && grep -qx "listen = \"127.0.0.1:$port\"" <<<"$out"; then
    pass "image: config from the mounted file (tenant packaging) and env (SWITCHBOARD_LISTEN, SWITCHBOARD_SHUTDOWN_GRACE_SECS=5)"
  else
    fail "image: config from the mounted file and env: $(head -c 300 <<<"$out")"
  fi
  st=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/mcp" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}')
  check "image: an anonymous client is refused (auth.anonymous = off)" "HTTP $st" test "$st" = 401
  for mode in legacy 2026-07-28; do
    counted "image/python-sdk " timeout 90 "$VENV_PY" packaging/tests/echo_client.py \
      "http://127.0.0.1:$port/mcp" "$mode" "$key"
  done
  health=$(podman healthcheck run "$CONTAINER" 2>&1)
  rc=$?
  check "image: HEALTHCHECK (switchboard health, no shell) passes" "podman healthcheck run: ${health:-healthy}" test "$rc" = 0
  podman stop -t 20 "$CONTAINER" >/dev/null 2>&1
  rc=$(podman inspect --format '{{.State.ExitCode}}' "$CONTAINER")
  logs=$(podman logs "$CONTAINER" 2>&1)
  check "image: podman stop (SIGTERM) drains it to exit 0" "exit code $rc" \
    test "$rc" = 0 -a -n "$(grep -F '"message":"stopped"' <<<"$logs")"
  podman rm -f "$CONTAINER" >/dev/null 2>&1
}

image_checks() {
  section "container image"
  if ! command -v podman >/dev/null; then
    fail "image: podman not found (scripts/tools.sh installs the Debian package podman)"
    return
  fi
  podman rmi -f "$IMAGE" >/dev/null 2>&1
  if scripts/image.sh --tag "$IMAGE" "$BINARY" >"$work/image.log" 2>&1; then
    image_built=1
    pass "image: built offline by scripts/image.sh ($(tail -n1 "$work/image.log" | sed 's/^image.sh: //'))"
  else
    cat "$work/image.log"
    fail "image: scripts/image.sh"
    return
  fi
  image_filesystem
  if run_flags; then
    echo "packaging.sh: containers can run on this machine (podman run ${run_flags:-with no extra flags})"
    image_run
  else
    skip "image/run: containers cannot run on this machine, so the image was not started and no MCP client" \
      "called it; its filesystem and config were checked above instead. ($run_error)"
  fi
}

# ------------------------------------------------------------------ deb ---
unit_value() { # unit_value KEY: the last KEY= of the installed unit
  sed -n "s/^$1=//p" /lib/systemd/system/switchboard.service | tail -n1
}

# deb_start LOG: the unit's ExecStart as its User/Group, with its
# EnvironmentFile, WorkingDirectory and UMask, on a free port; sets $deb_pid
# and $deb_url.
deb_start() {
  local log=$1 user group exec envfile wd umask port envs=() line
  user=$(unit_value User) group=$(unit_value Group) exec=$(unit_value ExecStart)
  envfile=$(unit_value EnvironmentFile) wd=$(unit_value WorkingDirectory) umask=$(unit_value UMask)
  envfile=${envfile#-}
  if [[ -r $envfile ]]; then
    while IFS= read -r line; do
      [[ $line =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] && envs+=("$line")
    done <"$envfile"
  fi
  port=$(free_port)
  deb_url=http://127.0.0.1:$port/mcp
  # shellcheck disable=SC2086  # ExecStart is words (the unit quotes nothing)
  (
    umask "${umask:-0022}"
    exec setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs --bounding-set=-all --inh-caps=-all \
      env -i -C "${wd:-/}" PATH=/usr/sbin:/usr/bin:/sbin:/bin "${envs[@]}" SWITCHBOARD_LISTEN="127.0.0.1:$port" $exec
  ) >>"$log" 2>&1 &
  deb_pid=$!
  wait_http "http://127.0.0.1:$port/healthz" 30 "$deb_pid"
}

no_process_of() { # no_process_of USER: no live process runs as USER
  local uid
  uid=$(id -u "$1" 2>/dev/null) || return 0
  ! awk -v u="$uid" '/^Uid:/ && $2 == u { found = 1 } END { exit !found }' /proc/[0-9]*/status 2>/dev/null
}

deb_checks() {
  section "Debian package"
  local deb out verify score uid grace stop log n rc
  if ! out=$(scripts/deb.sh "$BINARY" "$work/deb" 2>&1); then
    echo "$out"
    fail "deb: scripts/deb.sh"
    return
  fi
  deb=$(tail -n1 <<<"$out")
  pass "deb: built with dpkg-deb by scripts/deb.sh ($(head -n1 <<<"$out" | sed 's/^deb.sh: built //'))"
  if dpkg-query -W -f='${Status}' switchboard 2>/dev/null | grep -q 'installed'; then
    echo "packaging.sh: a switchboard package is installed already (an earlier run?): purging it first"
    dpkg --purge switchboard >/dev/null
  fi
  if ! out=$(dpkg -i "$deb" 2>&1); then
    echo "$out"
    fail "deb: dpkg -i"
    return
  fi
  deb_installed=1
  pass "deb: dpkg -i $(basename "$deb")"
  uid=$(id -u switchboard 2>/dev/null)
  check "deb: postinst made the system user switchboard" "uid ${uid:-none}" test -n "$uid" -a "${uid:-0}" -lt 1000 -a "${uid:-0}" -gt 0
  check "deb: /var/lib/switchboard belongs to it" "$(stat -c '%U:%G %a' /var/lib/switchboard 2>&1)" \
    test "$(stat -c %U /var/lib/switchboard 2>/dev/null)" = switchboard
  pages=$(ls /usr/share/man/man1/switchboard*.1.gz 2>/dev/null | wc -l)
  check "deb: man pages installed (switchboard man)" "$pages pages; man -w: $(man -w switchboard 2>&1 | head -n1)" \
    test "$pages" -gt 5 -a -n "$(zcat /usr/share/man/man1/switchboard-serve.1.gz 2>/dev/null | grep -F 'mcp' | head -n1)"
  check "deb: bash completion installed and loads" "" \
    bash -c 'source /usr/share/bash-completion/completions/switchboard && complete -p switchboard >/dev/null'
  check "deb: zsh and fish completions installed" "" \
    test -s /usr/share/zsh/vendor-completions/_switchboard -a -s /usr/share/fish/vendor_completions.d/switchboard.fish
  check "deb: the configuration files are conffiles" "$(dpkg-query -W -f='${Conffiles}' switchboard | awk 'NF { printf "%s ", $1 }')" \
    test "$(dpkg-query -W -f='${Conffiles}' switchboard | grep -c '/etc/')" = 2
  verify=$(systemd-analyze verify /lib/systemd/system/switchboard.service 2>&1)
  rc=$?
  check "deb: systemd-analyze verify switchboard.service" "${verify:-no findings}" test "$rc" = 0 -a -z "$verify"
  score=$(systemd-analyze security --offline=true /lib/systemd/system/switchboard.service 2>/dev/null \
    | sed -n 's/.*Overall exposure level for switchboard.service: \([0-9.]*\).*/\1/p')
  check "deb: hardening (systemd-analyze security --offline: exposure at most 2.0 of 10)" "exposure ${score:-unknown}" \
    awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.0) }'
  out=$(runuser -u switchboard -- /usr/bin/switchboard check-config /etc/switchboard/switchboard.toml 2>&1)
  rc=$?
  grace=$(sed -n 's/^shutdown_grace_secs = //p' <<<"$out")
  check "deb: the default /etc/switchboard/switchboard.toml passes check-config (as switchboard)" \
    "$(grep -m2 -E '^(listen|store) = ' <<<"$out" | tr '\n' ' ')" test "$rc" = 0
  check "deb: it serves on loopback with the file store" "" grep -qx 'listen = "127.0.0.1:8080"' <<<"$out"
  stop=$(unit_value TimeoutStopSec)
  check "deb: TimeoutStopSec ($stop) outlasts shutdown_grace_secs (${grace:-?}); KillSignal=$(unit_value KillSignal), KillMode=$(unit_value KillMode)" "" \
    test "${stop:-0}" -gt "${grace:-999}" -a "$(unit_value KillSignal)" = SIGTERM -a "$(unit_value KillMode)" = mixed
  # shellcheck disable=SC2016  # $MAINPID is systemd's, literally
  check "deb: ExecReload sends SIGHUP" "$(unit_value ExecReload)" test "$(unit_value ExecReload)" = '/bin/kill -HUP $MAINPID'

  log=$work/deb-serve.log
  echo "packaging.sh: starting the unit's ExecStart as User=$(unit_value User) (PID 1 here is $(ps -o comm= -p 1), not systemd; SWITCHBOARD_LISTEN picks a free port)"
  if ! deb_start "$log"; then
    tail -20 "$log"
    fail "deb: ExecStart as the unit's user serves /healthz"
    return
  fi
  uid=$(awk '/^Uid:/ { print $2 }' "/proc/$deb_pid/status")
  pass "deb: ExecStart ($(unit_value ExecStart)) serves at $deb_url as uid $uid ($(id -un "$uid"))"
  for mode in legacy 2026-07-28; do
    counted "deb/python-sdk " timeout 90 "$VENV_PY" packaging/tests/echo_client.py "$deb_url" "$mode"
  done
  check "deb: sessions are kept in the StateDirectory (store = file)" \
    "$(stat -c '%n %U %a' /var/lib/switchboard/sessions.redb 2>&1)" \
    test "$(stat -c %U /var/lib/switchboard/sessions.redb 2>/dev/null)" = switchboard

  # SIGHUP: a tenant added to the file, then the signal (the file watcher may
  # apply it too); the reload is logged and the new tenant's key works.
  new_key packaging deb || fail "deb: switchboard keys new"
  printf '\n[[tenants]]\nid = "packaging"\n%s\n' "$keyline" >>/etc/switchboard/switchboard.toml
  kill -HUP "$deb_pid"
  for ((n = 0; n < 50; n++)); do
    grep -q 'configuration reloaded: applied' "$log" && break
    sleep 0.1
  done
  check "deb: SIGHUP reloads the configuration" "$(grep -o '"message":"\(SIGHUP[^"]*\|configuration reloaded[^"]*\)"' "$log" | tr '\n' ' ')" \
    grep -q '"message":"SIGHUP: reloading the configuration"' "$log"
  check "deb: the reload applied the added tenant" "" grep -q 'configuration reloaded: applied.*tenants' "$log"
  counted "deb/after-reload " timeout 90 "$VENV_PY" packaging/tests/echo_client.py "$deb_url" legacy "$key"

  # SIGTERM, as systemd stops it; SIGKILL if it outlives TimeoutStopSec.
  kill -TERM "$deb_pid"
  (sleep "${stop:-20}"; kill -KILL "$deb_pid" 2>/dev/null) &
  n=$!
  wait "$deb_pid"
  rc=$?
  kill "$n" 2>/dev/null
  wait "$n" 2>/dev/null
  deb_pid=''
  check "deb: SIGTERM drains it to exit 0 within TimeoutStopSec" "exit status $rc" \
    test "$rc" = 0 -a -n "$(grep -F '"message":"stopped"' "$log")"

  # Removal while it runs: prerm stops it (no systemd here: start-stop-daemon).
  if deb_start "$log"; then
    n=$deb_pid
    out=$(dpkg -r switchboard 2>&1)
    rc=$?
    wait "$n" 2>/dev/null
    deb_pid=
    check "deb: dpkg -r while it runs" "$(tail -n1 <<<"$out")" test "$rc" = 0
    check "deb: prerm stopped the running server" "" test ! -e "/proc/$n"
    check "deb: dpkg -r removed the binary and kept the conffiles" "" \
      test ! -e /usr/bin/switchboard -a -e /etc/switchboard/switchboard.toml
    out=$(dpkg --purge switchboard 2>&1)
    rc=$?
    deb_installed=
    check "deb: dpkg --purge removes the configuration and the state" "" \
      test "$rc" = 0 -a ! -e /etc/switchboard -a ! -e /var/lib/switchboard -a ! -e /etc/default/switchboard
    check "deb: no process of the user switchboard is left" "" no_process_of switchboard
  else
    tail -20 "$log"
    fail "deb: ExecStart again, for the removal check"
  fi
}

# ----------------------------------------------------------- kubernetes ---
k8s_checks() {
  section "Kubernetes manifests"
  local dir name port n redis_url=''
  if ! command -v kubectl >/dev/null; then
    fail "kubernetes: kubectl not found (no Debian package in bookworm has it; the machine image provides it: see docs/install.md)"
    return
  fi
  if ! /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
    fail "kubernetes: /usr/bin/python3 cannot import yaml (scripts/tools.sh installs python3-yaml)"
    return
  fi
  if skipping redis; then
    echo "packaging.sh: SB_TEST_SKIP=redis: the cluster overlay is checked without starting it"
  elif command -v redis-server >/dev/null; then
    port=$(free_port)
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no >"$work/redis.log" 2>&1 &
    redis_pid=$!
    for ((n = 0; n < 50; n++)); do
      redis-cli -p "$port" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    redis_url=redis://127.0.0.1:$port
  else
    fail "kubernetes: redis-server not found (scripts/tools.sh installs it)"
  fi
  for dir in deploy/kubernetes/base deploy/kubernetes/overlays/single deploy/kubernetes/overlays/cluster; do
    name=${dir#deploy/kubernetes/}
    name=${name#overlays/}
    if ! kubectl kustomize "$dir" >"$work/$name.yaml" 2>"$work/$name.err"; then
      cat "$work/$name.err"
      fail "k8s/$name: kubectl kustomize $dir"
      continue
    fi
    pass "k8s/$name: kubectl kustomize $dir renders ($(grep -c '^kind: ' "$work/$name.yaml") objects: $(sed -n 's/^kind: //p' "$work/$name.yaml" | tr '\n' ' '))"
    counted "" /usr/bin/python3 packaging/tests/k8s_check.py --binary "$BINARY" --name "$name" \
      ${redis_url:+--redis-url "$redis_url"} "$work/$name.yaml"
  done
}

image_checks
deb_checks
k8s_checks

printf '\n'
if ((failed == 0)); then
  echo "packaging.sh: PASSED: $passed checks passed, $skipped skipped, in $(($(date +%s) - started)) s"
else
  echo "packaging.sh: FAILED: $failed of $((passed + failed)) checks failed ($skipped skipped), in $(($(date +%s) - started)) s"
fi
((failed == 0))
