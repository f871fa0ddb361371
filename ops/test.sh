#!/usr/bin/env bash
# Builds jtm with AddressSanitizer + UndefinedBehaviorSanitizer, starts what the tests need (a
# jtm-devbroker and a private PostgreSQL), runs every test with ctest, stops what it started.
# Several copies may run at once when each has its own JTM_TEST_STATE (folder), JTM_TEST_BUILD
# (build folder) and JTM_TEST_PG_PORT.
# Exit status: 0 when every test passed, non-zero otherwise.
#   ops/test.sh                 everything (unit + integration + short fault and fuzz runs)
#   ops/test.sh -R REGEX        only the ctest tests matching REGEX
#   JTM_TEST_LONG=1 ops/test.sh also the long load, soak and fault runs
set -euo pipefail
. "$(dirname "$0")/lib.sh"

jtm_install_deps
BUILD=${JTM_TEST_BUILD:-$JTM_ROOT/build-test}
jtm_build "$BUILD" -DJTM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug

STATE=${JTM_TEST_STATE:-$JTM_ROOT/.jtm/test}
rm -rf "$STATE"; mkdir -p "$STATE"; chmod 755 "$JTM_ROOT/.jtm" "$STATE" 2>/dev/null || true
export JTM_PGPORT=${JTM_TEST_PG_PORT:-54339}
export JTM_PGDATA=$STATE/pg
if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$STATE" 2>/dev/null; then
  export JTM_PGDATA=/var/tmp/jtm-test-$(printf %s "$STATE" | cksum | cut -d' ' -f1)/pg
fi
export JTM_BUILD=$BUILD

broker_pid=""
cleanup() {
  # A test that fails between starting a daemon and stopping it leaves the daemon running: stop
  # whatever still runs from this build's bin/ (only this run's build folder).
  pkill -TERM -f "^$BUILD/bin/jtm-" 2>/dev/null || true
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null || true
  "$JTM_ROOT/ops/pg.sh" destroy >/dev/null 2>&1 || true
}
trap cleanup EXIT

"$JTM_ROOT/ops/pg.sh" destroy >/dev/null 2>&1 || true
JTM_PGNOMIGRATE=1 "$JTM_ROOT/ops/pg.sh" start
eval "$("$JTM_ROOT/ops/pg.sh" env)"
export JTM_TEST_PG="${JTM_PG_CONNINFO/dbname=jtm/dbname=postgres}"

"$BUILD/bin/jtm-devbroker" --partitions 4 --bootstrap-file "$STATE/bootstrap" >"$STATE/devbroker.log" 2>&1 &
broker_pid=$!
jtm_wait_file "$STATE/bootstrap" 20 || { cat "$STATE/devbroker.log" >&2; jtm_die "jtm-devbroker did not start"; }
export JTM_TEST_BOOTSTRAP=$(cat "$STATE/bootstrap")
export JTM_TEST_STATE=$STATE
jtm_log "test broker $JTM_TEST_BOOTSTRAP, test PostgreSQL $JTM_TEST_PG"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$JTM_ROOT/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# A bounded libFuzzer run of the parse -> validate -> pseudonymise path (clang, ASan+UBSan),
# before the main suite so that ctest's closing summary is the suite's. Runs with no ctest
# arguments, or when JTM_TEST_FUZZ=1; JTM_FUZZ_SECONDS sets its length (default 60).
fuzz_rc=0
if [ "${JTM_TEST_FUZZ:-$([ $# -eq 0 ] && echo 1 || echo 0)}" = 1 ]; then
  FUZZ_BUILD=${JTM_TEST_FUZZ_BUILD:-$JTM_ROOT/build-fuzz}
  CC=clang JTM_BUILD_TARGET=fuzz_transform jtm_build "$FUZZ_BUILD" -DJTM_FUZZ=ON -DJTM_TESTS=OFF -DCMAKE_BUILD_TYPE=Debug
  JTM_FUZZ_SECONDS=${JTM_FUZZ_SECONDS:-60} ctest --test-dir "$FUZZ_BUILD/tests/fuzz" --output-on-failure || fuzz_rc=$?
fi

cd "$BUILD"
rc=0
ctest --output-on-failure --timeout 900 -j2 "$@" || rc=$?
[ "$fuzz_rc" = 0 ] || { jtm_log "the fuzz run failed (see above)"; [ "$rc" != 0 ] || rc=$fuzz_rc; }
exit "$rc"
