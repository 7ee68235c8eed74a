#!/usr/bin/env bash
# Assemble the container image's root filesystem: the one definition of what
# the image holds, run by both ways of building it — the Dockerfile's build
# stage (packaging/container/Dockerfile) and the offline build
# (scripts/image.sh), whose final stage is `FROM scratch` + this tree.
#
#   packaging/container/rootfs.sh BINARY OUTDIR
#
# OUTDIR gets (and nothing else: no shell, no package manager, no compiler):
#   /usr/bin/switchboard               BINARY, stripped (--strip-unneeded); also
#                                      the HEALTHCHECK (`switchboard health`)
#   the shared libraries BINARY links, as ldd lists them (glibc, libgcc_s, libm)
#   /etc/passwd, /etc/group            root and the user switchboard, 65532:65532
#   /etc/nsswitch.conf                 hosts: files dns (Redis and upstreams by name)
#   /etc/ssl/certs/ca-certificates.crt this machine's CA bundle (HTTPS upstreams, JWKS, OTLP)
#   /etc/switchboard/switchboard.toml  the baked configuration (switchboard.toml here)
#   /var/lib/switchboard               owned by 65532, for `store = "file"` on a volume
#   /tmp                               1777
#   /usr/share/doc/switchboard/copyright  the licence
set -euo pipefail

die() { echo "rootfs.sh: ERROR: $*" >&2; exit 1; }
(($# == 2)) || die "usage: rootfs.sh BINARY OUTDIR"
binary=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
uid=65532

[[ -x $binary ]] || die "$binary is not an executable"
ca=/etc/ssl/certs/ca-certificates.crt
[[ -s $ca ]] || die "$ca missing (install the Debian package ca-certificates)"
command -v strip >/dev/null || die "strip missing (install the Debian package binutils)"
[[ ! -e $out || -z $(ls -A "$out") ]] || die "$out exists and is not empty"

mkdir -p "$out"/{usr/bin,etc/ssl/certs,etc/switchboard,var/lib/switchboard,tmp,usr/share/doc/switchboard}
strip --strip-unneeded -o "$out/usr/bin/switchboard" "$binary"
chmod 0755 "$out/usr/bin/switchboard"

# The libraries at the paths the dynamic loader looks for them (ldd prints
# "name => /path (addr)" and the loader itself as "/path (addr)").
libs=$(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
[[ -n $libs ]] || die "ldd found no libraries for $binary (is it static? then drop this step)"
for lib in $libs; do
  mkdir -p "$out$(dirname "$lib")"
  cp -L "$lib" "$out$lib"
done

cat >"$out/etc/passwd" <<PASSWD
root:x:0:0:root:/root:/sbin/nologin
switchboard:x:$uid:$uid:switchboard:/var/lib/switchboard:/sbin/nologin
PASSWD
cat >"$out/etc/group" <<GROUP
root:x:0:
switchboard:x:$uid:
GROUP
echo 'hosts: files dns' >"$out/etc/nsswitch.conf"
cp -L "$ca" "$out/etc/ssl/certs/ca-certificates.crt"
install -m 0644 "$here/switchboard.toml" "$out/etc/switchboard/switchboard.toml"
install -m 0644 "$root/LICENSE" "$out/usr/share/doc/switchboard/copyright"
chown "$uid:$uid" "$out/var/lib/switchboard" 2>/dev/null || echo "rootfs.sh: not root: var/lib/switchboard stays owned by $(id -un) (the Dockerfile's COPY --chown sets 65532)"
chmod 0750 "$out/var/lib/switchboard"
chmod 1777 "$out/tmp"
echo "rootfs.sh: $out: $(du -sh "$out" | cut -f1), libraries: $(echo "$libs" | tr '\n' ' ')"
