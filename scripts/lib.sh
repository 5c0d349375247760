# Shared by scripts/up and scripts/test. Everything here is idempotent: it checks before it acts.
set -euo pipefail

BERTH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BERTH_STATE="${BERTH_ROOT}/.berth"
TEST_IMAGE="berth-test/busybox:latest"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian packages berth needs to build, run and test. Only missing ones are installed.
BUILD_PACKAGES=(cmake ninja-build g++ ccache pkg-config libboost-dev nlohmann-json3-dev libspdlog-dev
                libgtest-dev libgmock-dev libcurl4-openssl-dev curl)
RUN_PACKAGES=(docker.io)
TEST_PACKAGES=(busybox-static awscli)

install_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

docker_answers() { docker info >/dev/null 2>&1; }

# Starts a Docker engine unless one already answers on DOCKER_HOST (or the default socket).
ensure_dockerd() {
  if docker_answers; then
    return 0
  fi
  if [ -n "${DOCKER_HOST:-}" ]; then
    echo "DOCKER_HOST=${DOCKER_HOST} does not answer; start that engine or unset DOCKER_HOST" >&2
    return 1
  fi
  say "starting dockerd (log: /var/log/berth-dockerd.log)"
  as_root sh -c 'nohup dockerd >/var/log/berth-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do
    docker_answers && return 0
    sleep 0.5
  done
  echo "dockerd did not come up; see /var/log/berth-dockerd.log" >&2
  tail -20 /var/log/berth-dockerd.log >&2 || true
  return 1
}

# No registry is reachable, so tests use an image made here from Debian's busybox-static.
ensure_test_image() {
  if docker image inspect "$TEST_IMAGE" >/dev/null 2>&1; then
    return 0
  fi
  say "building test image ${TEST_IMAGE} from busybox-static"
  local root
  root="$(mktemp -d)"
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/www"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
  echo 'hello from berth' >"$root/www/index.html"
  tar -C "$root" -c . | docker import -c 'ENV PATH=/bin' -c 'CMD ["sh"]' - "$TEST_IMAGE" >/dev/null
  rm -rf "$root"
}

# Configures (once) and builds one CMake preset.
build_preset() {
  local preset="$1"
  say "building (${preset})"
  if [ ! -f "${BERTH_ROOT}/build/${preset}/build.ninja" ]; then
    (cd "$BERTH_ROOT" && cmake --preset "$preset" >/dev/null)
  fi
  (cd "$BERTH_ROOT" && cmake --build --preset "$preset" -- -j"$(nproc)")
}
