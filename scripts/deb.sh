#!/usr/bin/env bash
# Build the Debian package of Switchboard from a binary already built, with
# dpkg-deb (no debhelper, no source package): a staged tree of
#
#   /usr/bin/switchboard                    BINARY, stripped (--strip-unneeded)
#   /lib/systemd/system/switchboard.service packaging/debian/switchboard.service
#   /etc/switchboard/switchboard.toml       packaging/debian/switchboard.toml (conffile)
#   /etc/default/switchboard                packaging/debian/default (conffile, 0600)
#   /usr/share/doc/switchboard/             copyright (LICENSE), README.md,
#                                           configuration.md, install.md
#   DEBIAN/ control, conffiles, postinst, prerm, postrm (packaging/debian)
#
#   scripts/deb.sh [--version V] [--compress zstd|xz|gzip|none] BINARY OUTDIR
#
# writes OUTDIR/switchboard_VERSION_ARCH.deb and prints its path last.
# VERSION defaults to `BINARY --version`; ARCH is dpkg's. Depends: the libc6
# version the binary's symbols need (from its GLIBC_ version tags), libgcc-s1
# and adduser (for the postinst). Compressed with zstd by default: fast, and
# every dpkg that has a libc6 new enough for the binary (Debian 12 on) reads
# it. Needs dpkg-deb and binutils.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "deb.sh: ERROR: $*" >&2; exit 1; }

version='' compress=zstd
while (($#)); do
  case $1 in
    --version) version=${2:?--version needs a value}; shift 2 ;;
    --compress) compress=${2:?--compress needs a value}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) break ;;
  esac
done
(($# == 2)) || die "usage: scripts/deb.sh [--version V] [--compress zstd|xz|gzip|none] BINARY OUTDIR"
binary=$1 outdir=$2
[[ -x $binary ]] || die "$binary is not an executable"
for cmd in dpkg-deb dpkg strip objdump; do command -v "$cmd" >/dev/null || die "$cmd not found"; done
version=${version:-$("$binary" --version | awk '{ print $2 }')}
[[ $version =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || die "bad package version '$version'"
arch=$(dpkg --print-architecture)
maintainer=${SB_DEB_MAINTAINER:-Switchboard maintainers <maintainers@users.noreply.r-seed-b24aea7f.example>}

stage=$(mktemp -d)
chmod 0755 "$stage"
trap 'rm -rf "$stage"' EXIT
src=$ROOT/packaging/debian
install -d -m 0755 "$stage"/{DEBIAN,usr/bin,lib/systemd/system,etc/switchboard,etc/default,usr/share/doc/switchboard}
strip --strip-unneeded -o "$stage/usr/bin/switchboard" "$binary"
chmod 0755 "$stage/usr/bin/switchboard"
install -m 0644 "$src/switchboard.service" "$stage/lib/systemd/system/switchboard.service"
install -m 0644 "$src/switchboard.toml" "$stage/etc/switchboard/switchboard.toml"
install -m 0600 "$src/default" "$stage/etc/default/switchboard"
install -m 0644 "$ROOT/LICENSE" "$stage/usr/share/doc/switchboard/copyright"
install -m 0644 "$ROOT/README.md" "$ROOT/docs/configuration.md" "$ROOT/docs/install.md" "$stage/usr/share/doc/switchboard/"
install -m 0755 "$src/postinst" "$src/prerm" "$src/postrm" "$stage/DEBIAN/"
printf '/etc/switchboard/switchboard.toml\n/etc/default/switchboard\n' >"$stage/DEBIAN/conffiles"

# The newest glibc symbol version the binary needs is the libc6 it depends on.
glibc=$(objdump -T "$stage/usr/bin/switchboard" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n1)
[[ -n $glibc ]] || die "no GLIBC_ symbol versions in $binary (static? then drop the libc6 dependency)"
depends="libc6 (>= $glibc), libgcc-s1, adduser"
cat >"$stage/DEBIAN/control" <<CONTROL
Package: switchboard
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: $depends
Section: net
Priority: optional
Homepage: https://github.com/switchboard-mcp/switchboard
Description: MCP server runtime and gateway for many clients at once
 Switchboard serves the Model Context Protocol over Streamable HTTP (every
 protocol era on one endpoint) and, as a gateway, puts other MCP servers
 (stdio processes and HTTP servers) behind the same endpoint: tenants and
 API keys, rate limits and quotas, sessions kept in a file or in Redis,
 metrics, an admin API.
 .
 The package runs it as the systemd service switchboard.service, under its
 own system user, configured by /etc/switchboard/switchboard.toml (serving
 the built-in toolset on 127.0.0.1:8080 as installed).
CONTROL

mkdir -p "$outdir"
deb=$outdir/switchboard_${version}_${arch}.deb
dpkg-deb --root-owner-group -Z"$compress" --build "$stage" "$deb" >/dev/null
echo "deb.sh: built $deb ($(du -h "$deb" | cut -f1); Depends: $depends)"
echo "$deb"
