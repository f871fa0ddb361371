#!/usr/bin/env bash
# The long fault test, one command: builds with ASan+UBSan, starts a private PostgreSQL (and the
# test broker) through ops/test.sh and runs tests/it_fault.c with JTM_TEST_LONG=1: three rounds of
# every fault (SIGKILL of jtm-ingest, of all three ingests at once, of jtm-linker once and twice
# in a row, of jtm-alert; PostgreSQL stopped and started; the broker down and up; the linker's
# table locked) at random moments during a synthetic run, then the warehouse compared row for row
# with a clean run. Takes about 6 minutes on two cores, plus the first build.
#   ops/fault-test.sh                       a random schedule (its seed is printed)
#   JTM_FAULT_SEED=1234 ops/fault-test.sh   replay a schedule
# Its own state folder, build folder and PostgreSQL port (override with JTM_TEST_STATE,
# JTM_TEST_BUILD, JTM_TEST_PG_PORT), so it runs next to other copies of ops/test.sh.
# Exit status: 0 when the fault tests passed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export JTM_TEST_LONG=1
export JTM_TEST_STATE=${JTM_TEST_STATE:-$root/.jtm/fault-test}
export JTM_TEST_BUILD=${JTM_TEST_BUILD:-$root/build-fault}
export JTM_TEST_PG_PORT=${JTM_TEST_PG_PORT:-54398}
exec "$root/ops/test.sh" -R '^it_fault$' --verbose "$@"
