# Shared by the ops/ scripts: where things live, installing what the project needs, building.
# Source it; it defines functions and variables and changes nothing by itself.

JTM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Debian packages the project needs to build, test and run its demo.
JTM_PACKAGES="build-essential cmake pkg-config clang libclang-rt-14-dev librdkafka-dev libpq-dev
  libjansson-dev libcurl4-openssl-dev libssl-dev libcriterion-dev libmicrohttpd-dev
  postgresql postgresql-client kcat json-schema-test-suite curl procps python3 util-linux
  systemd"  # systemd for systemd-analyze verify of the units (tests/sh_systemd_units.sh)
# Extra packages named by later modules (ops/packages.d/*.txt, one or more names a line).

jtm_log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
jtm_die() { jtm_log "error: $*"; exit 1; }

jtm_as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages that are missing; a no-op when all are there.
jtm_install_deps() {
  local pkgs="$JTM_PACKAGES" f missing=""
  for f in "$JTM_ROOT"/ops/packages.d/*.txt; do
    [ -f "$f" ] && pkgs="$pkgs $(grep -v '^#' "$f")"
  done
  for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    jtm_log "installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    jtm_as_root apt-get update -qq || jtm_die "apt-get update failed"
    jtm_as_root apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
      jtm_die "apt-get install failed for:$missing"
  fi
}

# jtm_build DIR [cmake args...]: configures (once) and builds into DIR.
jtm_build() {
  local dir=$1; shift
  cmake -S "$JTM_ROOT" -B "$dir" "$@" >/dev/null || jtm_die "cmake configure failed"
  local st=0
  cmake --build "$dir" -j"$(nproc)" ${JTM_BUILD_TARGET:+--target "$JTM_BUILD_TARGET"} >"$dir/build.log" 2>&1 || st=$?
  grep -E 'warning:|error:|Error ' "$dir/build.log" >&2 || true
  [ "$st" = 0 ] || { tail -n 30 "$dir/build.log" >&2; jtm_die "build failed (log: $dir/build.log)"; }
}

# jtm_server_dir NAME: the folder NAME below the project's .jtm, where PostgreSQL data can live.
# The server's user must reach it; a project under /root or in a mktemp folder is not reachable, so
# root falls back to a folder in /var/tmp named after the project path.
jtm_server_dir() {
  local d="$JTM_ROOT/.jtm/$1"
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$JTM_ROOT/.jtm" && chmod 755 "$JTM_ROOT/.jtm"
    if ! runuser -u postgres -- test -x "$JTM_ROOT/.jtm" 2>/dev/null; then
      local base="/var/tmp/jtm-$(printf %s "$JTM_ROOT" | cksum | cut -d' ' -f1)"
      mkdir -p "$base" && chmod 755 "$base"
      d="$base/$1"
    fi
  fi
  printf %s "$d"
}

# Waits until FILE exists and is non-empty, up to SECONDS.
jtm_wait_file() {
  local f=$1 t=${2:-20} i=0
  while [ ! -s "$f" ]; do
    i=$((i + 1)); [ $i -gt $((t * 10)) ] && return 1
    sleep 0.1
  done
}
