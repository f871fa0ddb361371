#!/usr/bin/env bash
# Benchmark of jtm-linker: a synthetic region (jtm-synth, default 145,000 children over 3 years, about
# 1,000,000 events) pseudonymised by three jtm-ingest daemons onto pseudo.{jgz,verzuim,soj} (64
# partitions each) of a private jtm-devbroker, then loaded by jtm-linker into a private PostgreSQL
# (release build, batch.max 20000, batch.ms 200, workers 3: loaders with their own transactions on
# disjoint partitions; of 2, 3 and 4 on 2 cores, 3 loaded fastest). Baseline in the same run: the same
# pseudonymised events loaded with psql \copy into a plain table (payload jsonb, no index).
# Then, with the warehouse full, end-to-end latency at 5,000 events/s: 100,000 new SOJ events
# produced at that rate; latency = commit time of the batch that made them visible in wh.route
# (track_commit_timestamp) - Kafka CreateTime of the message.
# Prints the figures; the last line is
#   linker_eps=<N> copy_eps=<M> ratio=<N/M>
# Environment: JTM_BENCH_BUILD (default build), JTM_BENCH_STATE (default .jtm/bench, or a folder in
# /var/tmp when PostgreSQL's user cannot reach it), JTM_BENCH_PG_PORT (default 54360),
# JTM_BENCH_CHILDREN (default 145000), JTM_BENCH_LATENCY (default 1; 0 skips the latency run),
# JTM_BENCH_KEEP=1 leaves PostgreSQL running afterwards,
# JTM_BENCH_PG_TUNE=1 adds wal_compression, a 30 min checkpoint interval and max_wal_size 16GB,
# JTM_BENCH_PG_CONF more postgresql.conf lines, separated by ';' (e.g. "shared_buffers = 1GB"),
# JTM_BENCH_SETTLE (default 1) waits for autovacuum to finish its pass over the loaded rows before
# the latency run (0: measure latency right after the load),
# JTM_BENCH_MUNICIPALITIES (default 1) sets every synthetic municipality up (own partitions) before the
# load, 0 leaves all rows in the default partitions, JTM_BENCH_WORKERS (default 3) the linker's workers, JTM_BENCH_LINKER_ARGS extra -X options for
# the linker (e.g. "-X batch.max=20000"), JTM_BENCH_PERF=FILE a system-wide perf profile (perf
# record -a -g) of the load, reported per program at the end.
# Also printed: the CPU seconds the linker and the PostgreSQL server used during the load, against
# the cores times the load's duration (where the time went, and how much of the machine was idle).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${JTM_BENCH_BUILD:-$root/build}
. "$root/ops/lib.sh"
# PostgreSQL's data lives in the state folder, so it must be one the server's user reaches.
state=${JTM_BENCH_STATE:-$(jtm_server_dir bench)}
port=${JTM_BENCH_PG_PORT:-54360}
children=${JTM_BENCH_CHILDREN:-145000}
latency=${JTM_BENCH_LATENCY:-1}
workers=${JTM_BENCH_WORKERS:-3}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

say() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
now() { date +%s.%N; }
# ops/pg.sh with this run's folder and port; nothing JTM_PG_* is exported to the daemons (their
# config loaders would take JTM_PG_PORT for a libpq keyword).
pgctl() { JTM_PG_DIR=$state/pg JTM_PG_PORT=$port JTM_BUILD=$build "$root/ops/pg.sh" "$@"; }

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DJTM_SANITIZE=OFF >/dev/null
cmake --build "$build" -j2 --target jtm-linker jtm-devbroker jtm-migrate jtm-synth jtm-ingest >/dev/null

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "${JTM_BENCH_KEEP:-0}" = 1 ] || pgctl destroy >/dev/null 2>&1 || true
}
trap cleanup EXIT

pgctl destroy >/dev/null 2>&1 || true
rm -rf "$state"
mkdir -p "$state"
chmod 755 "$state"
pgctl start >/dev/null
echo "track_commit_timestamp = on" >>"$state/pg/postgresql.conf"
# JTM_BENCH_PG_TUNE=1: fewer full-page writes (every recompute rewrites rows of random children)
if [ "${JTM_BENCH_PG_TUNE:-0}" = 1 ]; then
    printf 'wal_compression = on\ncheckpoint_timeout = 30min\nmax_wal_size = 16GB\n' >>"$state/pg/postgresql.conf"
fi
# JTM_BENCH_PG_CONF: more postgresql.conf lines for experiments ("shared_buffers = 1GB; work_mem = 8MB")
if [ -n "${JTM_BENCH_PG_CONF:-}" ]; then
    printf '%s\n' "$JTM_BENCH_PG_CONF" | tr ';' '\n' >>"$state/pg/postgresql.conf"
fi
pgctl restart >/dev/null 2>&1
conninfo=$(pgctl env | sed -n 's/^JTM_PG_CONNINFO=//p' | sed 's/\\ / /g')
psql_() { "$PGBIN/psql" "$conninfo" -qAtX -v ON_ERROR_STOP=1 "$@"; }

"$build/bin/jtm-devbroker" --partitions 64 --bootstrap-file "$state/bootstrap" >"$state/devbroker.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do [ -s "$state/bootstrap" ] && break; sleep 0.1; done
bootstrap=$(cat "$state/bootstrap")
say "broker $bootstrap, PostgreSQL $conninfo"

# Synthetic raw events, then pseudonymised by the edge daemons.
"$build/bin/jtm-synth" --children "$children" --seed 1 --kafka "$bootstrap" 2>"$state/synth.log"
raw=$(sed -n 's/.*event=done events=\([0-9]*\).*/\1/p' "$state/synth.log")
say "synth: $raw raw events of $children children"
head -c 48 /dev/urandom >"$state/region.key"
chmod 600 "$state/region.key"
for feed in jgz verzuim soj; do
    "$build/bin/jtm-ingest" --feed $feed -X key.file="$state/region.key" -X key.id=kbench \
        -X kafka.bootstrap.servers="$bootstrap" -X stats.interval.ms=0 >"$state/ingest-$feed.log" 2>&1 &
    pids+=($!)
done
# Number of messages in a topic: the sum of its partitions' end offsets (kcat -Q, offset -1 = end).
topic_count() {
    local args=() p
    for p in $(seq 0 63); do args+=(-t "$1:$p:-1"); done
    kcat -b "$bootstrap" -Q "${args[@]}" 2>/dev/null | awk '{n += $NF} END {print n + 0}'
}
pseudo=0
for _ in $(seq 600); do
    pseudo=$(( $(topic_count pseudo.jgz) + $(topic_count pseudo.verzuim) + $(topic_count pseudo.soj) ))
    dlq=$(( $(topic_count dlq.jgz) + $(topic_count dlq.verzuim) + $(topic_count dlq.soj) ))
    [ $((pseudo + dlq)) -ge "$raw" ] && break
    sleep 2
done
for p in "${pids[@]:1}"; do kill "$p" 2>/dev/null || true; done
say "ingest: $pseudo pseudonymised events, $dlq rejected at the edge"
for t in pseudo.jgz pseudo.verzuim pseudo.soj; do
    kcat -b "$bootstrap" -C -t $t -e -q -f '%s\n'
done >"$state/pseudo.ndjson"
lines=$(wc -l <"$state/pseudo.ndjson")
[ "$lines" = "$pseudo" ] || say "warning: read back $lines of $pseudo events (broker retention?)"

# Every municipality of the region set up (its own partitions, as in production; docs/access.md),
# unless JTM_BENCH_MUNICIPALITIES=0 leaves all rows in the default partitions.
if [ "${JTM_BENCH_MUNICIPALITIES:-1}" = 1 ]; then
    "$build/bin/jtm-migrate" -X "pg.conninfo=$conninfo" -X log.level=warn
    for gm in $(sed -n 's/.*"\(GM[0-9]\{4\}\)".*/\1/p' "$root/daemons/jtm-synth/world.c" | sort -u); do
        psql_ -c "SELECT ops.municipality_setup('$gm')" >/dev/null
    done
    say "municipalities set up: $(psql_ -c "SELECT count(*) FROM ops.municipality")"
fi

# The linker: from its assignment to every partition's stored position at the end of its topic.
group=bench
t_start=$(now)
"$build/bin/jtm-linker" -X kafka.bootstrap.servers="$bootstrap" -X "pg.conninfo=$conninfo" \
    -X group=$group -X stats.interval_ms=5000 -X workers="$workers" ${JTM_BENCH_LINKER_ARGS:-} \
    2>"$state/linker.log" &
linker=$!
pids+=($linker)
applied() { psql_ -c "SELECT coalesce(sum(next_offset), 0) FROM ops.kafka_offset WHERE consumer_group = '$group'"; }
until [ "$(grep -c event=kafka_assigned "$state/linker.log")" -ge "$workers" ]; do sleep 0.05; done
t_assigned=$(now)
# CPU clock ticks used so far by the linker / by the server's processes (postmaster's children)
ticks() { local t=0 p; for p in "$@"; do [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
pg_ticks() { ticks $(pgrep -P "$(head -n 1 "$state/pg/postmaster.pid")"); }
linker_t0=$(ticks $linker); pg_t0=$(pg_ticks)
perf_pid=""
if [ -n "${JTM_BENCH_PERF:-}" ]; then
    perf record -a -g -F 499 -o "$JTM_BENCH_PERF" >/dev/null 2>&1 &
    perf_pid=$!
fi
while [ "$(applied)" -lt "$pseudo" ]; do
    kill -0 $linker 2>/dev/null || { tail "$state/linker.log" >&2; exit 1; }
    sleep 0.5  # each poll is a psql process: every 0.2 s cost ~5% of the CPU the linker competes for
done
t_done=$(now)
linker_t1=$(ticks $linker); pg_t1=$(pg_ticks)
[ -n "$perf_pid" ] && { kill -INT "$perf_pid"; wait "$perf_pid" || true; }
linker_s=$(echo "$t_done - $t_assigned" | bc -l)
hz=$(getconf CLK_TCK)
say "cpu during the load: linker $(echo "scale=1; ($linker_t1 - $linker_t0) / $hz" | bc) s, postgres $(echo "scale=1; ($pg_t1 - $pg_t0) / $hz" | bc) s, of $(echo "scale=1; $(nproc) * $linker_s / 1" | bc) s ($(nproc) cores)"
linker_eps=$(echo "$pseudo / $linker_s" | bc)
say "linker: $pseudo events in $linker_s s from assignment ($(echo "$t_done - $t_start" | bc -l) s from start)"
psql_ -c "SELECT 'staging.event rows: ' || count(*) FROM staging.event" \
      -c "SELECT 'wh.route rows: ' || count(*) || ', wh.care_episode rows: ' || (SELECT count(*) FROM wh.care_episode) FROM wh.route" \
      -c "SELECT 'dead letters: ' || count(*) FROM ops.linker_dead_letter" >&2

if [ "$latency" = 1 ]; then
    # Steady state, not the aftermath of the bulk load: autovacuum's first pass over the million
    # new rows takes one core for tens of seconds and would land in the middle of the latency run.
    # (JTM_BENCH_SETTLE=0 measures it anyway.)
    if [ "${JTM_BENCH_SETTLE:-1}" = 1 ]; then
        t_settle=$(now)
        for _ in $(seq 600); do
            busy=$(psql_ -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")
            [ "$busy" = 0 ] && break
            sleep 1
        done
        say "autovacuum settled after $(echo "$(now) - $t_settle" | bc -l | cut -c1-5) s"
    fi
    # 100,000 new SOJ events (existing children, fresh event ids) at 5,000/s, keyed by pid.
    grep -m 100000 '"feed":"soj"' "$state/pseudo.ndjson" |
        awk '{ s = $0; sub(/"event_id":"[0-9a-f]*"/, sprintf("\"event_id\":\"ee%030d\"", NR), s);
               match(s, /"pid":"[0-9a-f]*"/); print substr(s, RSTART + 7, 32) "\t" s }' >"$state/latency.tsv"
    before=$(applied)
    nlat=$(wc -l <"$state/latency.tsv")
    python3 - "$state/latency.tsv" <<'PY' | kcat -b "$bootstrap" -P -t pseudo.soj -K '\t' -X linger.ms=5
import sys, time
rate, step = 5000, 0.01
lines = open(sys.argv[1]).read().splitlines()
t0 = time.monotonic()
per = int(rate * step)
for i in range(0, len(lines), per):
    target = t0 + (i // per) * step
    d = target - time.monotonic()
    if d > 0:
        time.sleep(d)
    sys.stdout.write("\n".join(lines[i:i + per]) + "\n")
    sys.stdout.flush()
PY
    want=$((before + nlat))
    for _ in $(seq 600); do [ "$(applied)" -ge "$want" ] && break; sleep 0.2; done
    # Kafka CreateTime of every new message, joined to the commit time of the row it became.
    kcat -b "$bootstrap" -C -t pseudo.soj -e -q -f '%p\t%o\t%T\n' >"$state/latency-ts.tsv"
    psql_ <<SQL >&2
CREATE TEMP TABLE kts (p integer, o bigint, ts bigint);
\copy kts FROM '$state/latency-ts.tsv'
SELECT format('latency_p50_ms=%s latency_p99_ms=%s latency_max_ms=%s events=%s',
              round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric),
              round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric), round(max(ms)::numeric), count(*))
FROM (SELECT extract(epoch FROM pg_xact_commit_timestamp(e.xmin)) * 1000 - k.ts AS ms
      FROM staging.event e JOIN kts k ON k.p = e.src_partition AND k.o = e.src_offset
      WHERE e.src_topic = 'pseudo.soj' AND e.event_id ~ '^ee0{20}') s;
SQL
fi

# Peak resident set size (VmHWM) of the linker over the whole run, read before it stops.
rss_peak=$(awk '/VmHWM/ {print $2}' /proc/$linker/status)
kill -TERM $linker
wait $linker || true
grep 'event=stats' "$state/linker.log" | tail -n 1 >&2

# Baseline: the same rows with psql \copy into a plain table.
psql_ -c "DROP TABLE IF EXISTS public.bench_copy" -c "CREATE TABLE public.bench_copy (payload jsonb)"
t0=$(now)
psql_ -c "\\copy public.bench_copy (payload) FROM '$state/pseudo.ndjson' WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"
t1=$(now)
copy_s=$(echo "$t1 - $t0" | bc -l)
copy_eps=$(echo "$lines / $copy_s" | bc)
say "copy: $lines rows in $copy_s s"
if [ -n "${JTM_BENCH_PERF:-}" ]; then
    perf report -i "$JTM_BENCH_PERF" --no-children --sort comm -g none 2>/dev/null | grep -E '^ +[0-9]' | head -n 8 >&2
fi
echo "linker_peak_rss_kb=$rss_peak events=$pseudo children=$children workers=$workers"
echo "linker_eps=$linker_eps copy_eps=$copy_eps ratio=$(echo "scale=3; $linker_eps / $copy_eps" | bc)"
