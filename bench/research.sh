#!/usr/bin/env bash
# Research outputs on a demo-size region (issue 21): a synthetic region like ops/demo.sh's (default
# 20,000 children over three years up to this week, seed 1) loaded through jtm-synth, three
# jtm-ingest and jtm-linker into a private PostgreSQL, then
#   - jtm-disclosure-audit over the three research views (as a researcher login): every withheld
#     count's feasible interval, exit 1 when one is narrower than research.min_cell();
#   - jtm-extract at k = 5 (JTM_BENCH_K): the metadata's retention per group (residential, crisis,
#     comparison), levels of generalisation used and the measured re-identification risk.
# Environment: JTM_BENCH_BUILD (default build), JTM_BENCH_STATE (default a folder from
# jtm_server_dir), JTM_BENCH_PG_PORT (default 54374), JTM_BENCH_CHILDREN (20000), JTM_BENCH_SEED (1),
# JTM_BENCH_K (5), JTM_BENCH_KEEP=1 leaves PostgreSQL running, JTM_BENCH_REUSE=1 skips the load and
# uses the warehouse a previous JTM_BENCH_KEEP=1 run left.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${JTM_BENCH_BUILD:-$root/build}
. "$root/ops/lib.sh"
state=${JTM_BENCH_STATE:-$(jtm_server_dir research-bench)}
port=${JTM_BENCH_PG_PORT:-54374}
children=${JTM_BENCH_CHILDREN:-20000}
seed=${JTM_BENCH_SEED:-1}
k=${JTM_BENCH_K:-5}
reuse=${JTM_BENCH_REUSE:-0}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

say() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
pgctl() { JTM_PG_DIR=$state/pg JTM_PG_PORT=$port JTM_BUILD=$build "$root/ops/pg.sh" "$@"; }

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DJTM_SANITIZE=OFF -DJTM_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target jtm-linker jtm-devbroker jtm-migrate jtm-synth jtm-ingest jtm-extract \
    jtm-disclosure-audit >/dev/null

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "${JTM_BENCH_KEEP:-0}" = 1 ] || pgctl destroy >/dev/null 2>&1 || true
}
trap cleanup EXIT

if [ "$reuse" != 1 ]; then
    pgctl destroy >/dev/null 2>&1 || true
    rm -rf "$state"
    mkdir -p "$state"
    chmod 755 "$state"
fi
pgctl start >/dev/null
pgctl migrate >/dev/null
conninfo=$(pgctl env | sed -n 's/^JTM_PG_CONNINFO=//p' | sed 's/\\ / /g')
psql_() { "$PGBIN/psql" "$conninfo" -qAtX -v ON_ERROR_STOP=1 "$@"; }

if [ "$reuse" != 1 ]; then
    "$build/bin/jtm-devbroker" --partitions 8 --bootstrap-file "$state/bootstrap" >"$state/devbroker.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 200); do [ -s "$state/bootstrap" ] && break; sleep 0.1; done
    bootstrap=$(cat "$state/bootstrap")
    start=$(date -u -d "$(date -u +%Y-%m-%d) -3 years +1 day" +%Y-%m-%d)
    "$build/bin/jtm-synth" --children "$children" --seed "$seed" --start "$start" --years 3 \
        --kafka "$bootstrap" 2>"$state/synth.log"
    raw=$(sed -n 's/.*event=done events=\([0-9]*\).*/\1/p' "$state/synth.log")
    say "synth: $raw raw events of $children children from $start"
    head -c 48 /dev/urandom >"$state/region.key"
    chmod 600 "$state/region.key"
    for feed in jgz verzuim soj; do
        "$build/bin/jtm-ingest" --feed $feed -X key.file="$state/region.key" -X key.id=kbench \
            -X kafka.bootstrap.servers="$bootstrap" >"$state/ingest-$feed.log" 2>&1 &
        pids+=($!)
    done
    "$build/bin/jtm-linker" -X kafka.bootstrap.servers="$bootstrap" -X "pg.conninfo=$conninfo" \
        -X group=research 2>"$state/linker.log" &
    pids+=($!)
    # Loaded when the stored offsets stop moving and cover what the edge published.
    last=-1; still=0
    for _ in $(seq 1800); do
        sleep 2
        got=$(psql_ -c "SELECT coalesce(sum(next_offset), 0) FROM ops.kafka_offset WHERE consumer_group = 'research'")
        if [ "$got" = "$last" ] && [ "$got" -gt 0 ]; then still=$((still + 1)); else still=0; fi
        last=$got
        [ "$still" -ge 5 ] && break
    done
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
    say "linker applied $last events"
fi
psql_ -c "SELECT 'children: ' || count(*) || ', with care: ' || count(*) FILTER (WHERE episodes > 0) FROM wh.route" >&2

# Logins: a researcher (research views only) and an extractor (wh), passwordless on the private socket.
"$root/ops/jtm-login.sh" -d "$conninfo" researcher bench_researcher >/dev/null
"$root/ops/jtm-login.sh" -d "$conninfo" extractor bench_extractor >/dev/null

say "disclosure audit (researcher login)"
set +e
"$build/bin/jtm-disclosure-audit" --pg "$conninfo user=bench_researcher" -X report.max=20
audit_rc=$?
set -e
say "audit exit $audit_rc"

head -c 48 /dev/urandom >"$state/study.key"
chmod 600 "$state/study.key"
"$build/bin/jtm-extract" -X "pg.conninfo=$conninfo user=bench_extractor" --study-key-file "$state/study.key" \
    --study-id bench -k "$k" -o "$state/extract.csv"
python3 - "$state/extract.csv.meta.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
for g in m["groups"]:
    print("group=%(group)s children=%(children_read)s kept=%(children_kept)s kept_share=%(kept_share).3f cells_generalised_share=%(cells_generalised_share).3f" % g)
r = m["risk"]
print("risk: " + " ".join("%s=%s" % kv for kv in r.items()))
print("levels: " + " ".join("%s=%s" % kv for kv in m["counts"]["children_by_level"].items()))
PY
exit $audit_rc
