#!/usr/bin/env bash
# Builds a minimal container image of berth from a built binary and the shared libraries it links, with
# `docker import`: no base image and no registry needed.
#
#   docker/make-image.sh [path/to/berth] [image-name]        (defaults: build/release/bin/berth, berth:local)
#   docker run -d --name berth --network host -v /var/run/docker.sock:/var/run/docker.sock berth:local serve
#
# berth starts task containers on the host's engine through the mounted socket. Run it with --network host:
# task containers find their metadata and role credentials at 169.254.170.2 on the host, so berth must listen
# in the host's network namespace (it then listens on 127.0.0.1:4566 as on the host; add --listen 0.0.0.0 to
# expose it). With -p 127.0.0.1:4566:4566 instead (the image's default command listens on 0.0.0.0), the API
# works but the metadata endpoint cannot be served, and berth's log says so.
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
