#!/usr/bin/env bash
# Build the container image offline from a binary already built: the runtime
# stage of packaging/container/Dockerfile (every line from its `FROM scratch`
# on, the build stage's /rootfs replaced by a local one) over the tree
# packaging/container/rootfs.sh assembles, with podman. No registry is
# needed: nothing is pulled, no RUN step runs a container.
#
#   scripts/image.sh [--tag TAG] [--save FILE] BINARY
#
#   BINARY       a switchboard binary for this machine (target/release/switchboard,
#                target/debug/switchboard); a stripped copy goes in the image
#   --tag TAG    the image's name (default localhost/switchboard:VERSION, VERSION
#                from `BINARY --version`)
#   --save FILE  also write the image as an OCI archive (podman save), for
#                `podman load`/`docker load` or pushing with skopeo elsewhere
#
# Needs podman (Debian package podman), binutils (strip), ca-certificates. As root (podman's system
# storage) or rootless podman if configured.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "image.sh: ERROR: $*" >&2; exit 1; }

tag='' save=''
while (($#)); do
  case $1 in
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --save) save=${2:?--save needs a file}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) break ;;
  esac
done
(($# == 1)) || die "usage: scripts/image.sh [--tag TAG] [--save FILE] BINARY"
binary=$(realpath "$1")
[[ -x $binary ]] || die "$1 is not an executable"
command -v podman >/dev/null || die "podman not found (apt-get install podman; scripts/tools.sh installs it)"
version=$("$binary" --version | awk '{ print $2 }')
[[ -n $version ]] || die "$binary --version printed no version"
tag=${tag:-localhost/switchboard:$version}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/context"

"$ROOT/packaging/container/rootfs.sh" "$binary" "$work/context/rootfs"

# The Dockerfile's runtime stage, its `COPY --from=build … /rootfs/…` from the
# local tree instead.
containerfile=$work/context/Containerfile
awk '/^FROM scratch/ { keep = 1; out = "" } keep { out = out $0 "\n" } END { printf "%s", out }' \
  "$ROOT/packaging/container/Dockerfile" \
  | sed -E 's#^COPY --from=build (.*)/rootfs/#COPY \1rootfs/#' >"$containerfile"
grep -q '^FROM scratch' "$containerfile" || die "no 'FROM scratch' stage in packaging/container/Dockerfile"
if grep -q -- '--from=' "$containerfile"; then die "the runtime stage copies from another stage besides /rootfs: $(grep -- '--from=' "$containerfile")"; fi

echo "image.sh: building $tag from $binary (runtime stage of packaging/container/Dockerfile)"
# docker format: OCI image configs have no HEALTHCHECK.
podman build --quiet --format docker --no-cache \
  --label "org.opencontainers.image.version=$version" \
  --label "org.opencontainers.image.title=switchboard" \
  --label "org.opencontainers.image.licenses=Apache-2.0" \
  -t "$tag" -f "$containerfile" "$work/context" >/dev/null
echo "image.sh: built $tag ($(podman image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%.1f MB", $1 / 1e6 }'))"
if [[ -n $save ]]; then
  rm -f "$save"
  podman save --quiet --format oci-archive -o "$save" "$tag"
  echo "image.sh: saved $tag to $save"
fi
