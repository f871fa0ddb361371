#!/usr/bin/env bash
# Chaos soak: recovery after crashes, and exactly-once through them. A synthetic region is produced
# at a steady rate (jtm-synth --rate) into a private jtm-devbroker and flows through three
# jtm-ingest and a jtm-linker (release build) into a private PostgreSQL, while every 2-5 s a random
# daemon is SIGKILLed and restarted 2 s later (systemd's RestartSec; the policy: bench/chaos.py),
# and every 200 s PostgreSQL is restarted or the broker taken down and up (alternately), with the
# kills paused until every feed flows again. Afterwards the same region (same
# seed) is loaded again without faults into a second database and the two warehouses are compared
# row for row (ops/compare-rows.sql: staging.event, wh.care_episode, wh.route,
# wh.population_month, monitor.waiting_list_weekly). Not part of ops/test.sh.
#
# Prints per table the rows found only in one of the two, per daemon the kills and recovery times,
# the recovery after each PostgreSQL restart and broker outage, and last:
#   kills=<N> recovered=<N> pg_restarts=<N> broker_outages=<N>
#   recovery_p50_s=<s> recovery_max_s=<s>
#   chaos_differences=<rows that differ; must be 0>
# Recovery of a kill = from the restart to the first event of that daemon's feed in the warehouse
# (for jtm-ingest: a message it wrote after its restart, applied by the linker; for jtm-linker: its
# first applied batch). One line per kill in <state>/kills.tsv; logs in <state>.
# Exit status 0 when there were no differences, every kill recovered and no daemon died by itself.
#
# Environment (defaults):
#   JTM_CHAOS_SECONDS (600)       how long the region is produced, and the chaos lasts
#   JTM_CHAOS_RATE (2500)         events per second; the region's size follows (jtm-synth's region
#                                 has about 6.9 events per child), or JTM_CHAOS_CHILDREN sets it
#   JTM_CHAOS_SEED (from the clock; printed)   the region and the schedule of faults
#   JTM_CHAOS_KILL_MIN/MAX (2/5)  seconds between kills; JTM_CHAOS_RESTART_SEC (2) kill to restart
#   JTM_CHAOS_LINKER_SHARE (1/6)  share of kills that hit the linker (the others: an ingest)
#   JTM_CHAOS_INFRA_EVERY (200)   seconds between PostgreSQL restarts / broker outages (2-5 s each)
#   JTM_CHAOS_SESSION_MS (6000)   kafka.session.timeout.ms of the daemons; 0 keeps their default
#                                 (10000). The development broker (librdkafka 2.0.2's mock) ignores
#                                 group.instance.id, so there a restarted daemon is assigned about
#                                 session.timeout.ms - 1 s after it joins; with 6000 (the smallest
#                                 session a real broker allows by default, and the tests' setting)
#                                 recovery is about 5 s, with the default about 9 s. A broker with
#                                 static membership gives the old place back at once.
#   JTM_CHAOS_WORKERS (2)         linker workers (co-partitioned consumers in one process)
#   JTM_CHAOS_BATCH_MAX (5000)    the linker's batch.max: after an outage its first batch is the
#                                 backlog up to batch.max, and the default 100,000 take many seconds
#                                 to commit on a loaded 2-core machine
#   JTM_CHAOS_CLEAN_RATE (5000)   events per second of the clean run (the mock keeps only 5 MiB per
#                                 partition: a faster producer can outrun the consumers and lose data)
#   JTM_CHAOS_PARTITIONS (32)     partitions per topic
#   JTM_CHAOS_PG_PORT (54380)     the private PostgreSQL; JTM_CHAOS_METRICS_BASE (9580): metrics of
#                                 the chaos run's ingest jgz, verzuim, soj and linker on 9580-9583,
#                                 of the clean run's on 9590-9593 (ops/demo.sh uses 9464-9468)
#   JTM_CHAOS_BUILD (build-chaos), JTM_CHAOS_STATE (.jtm/chaos, or /var/tmp when PostgreSQL's user
#   cannot reach it), JTM_CHAOS_KEEP=1 leaves PostgreSQL running afterwards.
# Example: a 3-minute run at low priority: JTM_CHAOS_SECONDS=180 nice bench/chaos.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/ops/lib.sh"
build=${JTM_CHAOS_BUILD:-$root/build-chaos}
state=${JTM_CHAOS_STATE:-$(jtm_server_dir chaos)}
port=${JTM_CHAOS_PG_PORT:-54380}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

# ops/pg.sh with this run's folder and port; nothing JTM_PG_* is exported to the daemons (their
# config loaders would take JTM_PG_PORT for a libpq keyword).
pgctl=(env "JTM_PG_DIR=$state/pg" "JTM_PG_PORT=$port" "JTM_BUILD=$build" "$root/ops/pg.sh")

# One soak per state folder and port: a second one would destroy the first one's PostgreSQL.
mkdir -p "$(dirname "$state")"
exec 9>"$state.lock"
flock -n 9 || jtm_die "another bench/chaos.sh runs on $state (lock $state.lock)"

jtm_install_deps
jtm_build "$build" -DCMAKE_BUILD_TYPE=Release -DJTM_SANITIZE=OFF -DJTM_TESTS=OFF

cleanup() {
    [ "${JTM_CHAOS_KEEP:-0}" = 1 ] || "${pgctl[@]}" destroy >/dev/null 2>&1 || true
}
trap cleanup EXIT
"${pgctl[@]}" destroy >/dev/null 2>&1 || true
rm -rf "$state"
mkdir -p "$state"
chmod 755 "$state"
"${pgctl[@]}" start >/dev/null
conninfo=$("${pgctl[@]}" env | sed -n 's/^JTM_PG_CONNINFO=//p' | sed 's/\\ / /g')
"$PGBIN/psql" "$conninfo" -qAtX -v ON_ERROR_STOP=1 -c "CREATE DATABASE jtm_clean" >/dev/null

CHAOS_ROOT=$root CHAOS_BUILD=$build CHAOS_STATE=$state CHAOS_CONNINFO=$conninfo \
CHAOS_CLEAN_CONNINFO=${conninfo/dbname=jtm/dbname=jtm_clean} CHAOS_PSQL=$PGBIN/psql \
CHAOS_PGCTL="${pgctl[*]}" python3 "$root/bench/chaos.py"
