#!/usr/bin/env bash
# Builds a minimal container image of berth from a built binary and the shared libraries it links, with
# `docker import`: no base image and no registry needed.
#
#   docker/make-image.sh [path/to/berth] [image-name]        (defaults: build/release/bin/berth, berth:local)
#   docker run -d --name berth -p 127.0.0.1:4566:4566 -v /var/run/docker.sock:/var/run/docker.sock berth:local
#
# Inside the container berth listens on 0.0.0.0 (the port mapping above decides who can reach it) and starts
# task containers on the host's engine through the mounted socket.
set -euo pipefail
root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="${1:-${root_dir}/build/release/bin/berth}"
image="${2:-berth:local}"
[ -x "$binary" ] || { echo "no berth binary at $binary (build it first)" >&2; exit 1; }

rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs/usr/local/bin" "$rootfs/tmp" "$rootfs/etc" "$rootfs/data"
chmod 1777 "$rootfs/tmp"
cp "$binary" "$rootfs/usr/local/bin/berth"
# The binary's shared libraries and the dynamic loader, at the paths it expects.
for lib in $(ldd "$binary" | awk '/=>/ { print $3 } /ld-linux/ { print $1 }'); do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done
# libcurl resolves names through NSS; keep lookups working for tcp:// engines.
for f in /etc/nsswitch.conf /etc/ssl/certs/ca-certificates.crt; do
  if [ -f "$f" ]; then mkdir -p "$rootfs$(dirname "$f")"; cp "$f" "$rootfs$f"; fi
done
echo 'berth:x:0:0:berth:/data:/usr/local/bin/berth' >"$rootfs/etc/passwd"
tar -C "$rootfs" -c . | docker import \
  -c 'ENTRYPOINT ["/usr/local/bin/berth"]' \
  -c 'CMD ["serve", "--listen", "0.0.0.0"]' \
  -c 'EXPOSE 4566' \
  -c 'ENV BERTH_PORT=4566' \
  - "$image" >/dev/null
echo "$image"
