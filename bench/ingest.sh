#!/usr/bin/env bash
# bench/ingest.sh: jtm-ingest end to end (consume raw -> validate -> pseudonymise -> produce) against
# a plain kcat pass-through (consume raw, produce unchanged) of the same events, on an own
# jtm-devbroker. Prints `ingest_eps=<N> passthrough_eps=<M> ratio=<N/M>` as the last line.
#
#   bench/ingest.sh                      1,000,000 SOJ events (jtm-synth), release build in build/
#   JTM_BENCH_EVENTS=200000 bench/ingest.sh
#   JTM_BENCH_PIN=1 bench/ingest.sh      jtm-ingest pinned to one CPU (taskset -c 1)
#   JTM_BENCH_PERF=/tmp/ingest.perf bench/ingest.sh   jtm-ingest under perf record -g (profile)
#   JTM_BENCH_INGEST_CONF=$'kafka.linger.ms = 50' bench/ingest.sh   extra lines for jtm-ingest's config
#   JTM_BENCH_INGEST_ENV=LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 bench/ingest.sh
#                                        environment for jtm-ingest only (experiments)
#
# Rates are the messages on the output topic(s) over the span of their Kafka CreateTime stamps (set
# when each program handed the message to its producer), so the consumer group join of jtm-ingest
# (a few seconds on the mock) does not count against it, and neither does the script's own polling
# for completion (once a second, kcat -Q per topic: it used to poll every 0.2 s, twice as many
# topics for jtm-ingest as for the pass-through, and took CPU from whichever ran). The wall time
# including start-up is printed too. Topics have 64 partitions: the mock keeps only 5 MiB per
# partition (design.md), and the script checks that nothing was pruned.
set -euo pipefail
. "$(dirname "$0")/../ops/lib.sh"

N=${JTM_BENCH_EVENTS:-1000000}
PARTS=${JTM_BENCH_PARTITIONS:-64}
BUILD=${JTM_BENCH_BUILD:-$JTM_ROOT/build}
STATE=${JTM_BENCH_STATE:-$JTM_ROOT/.jtm/bench-ingest}

jtm_log "release build in $BUILD"
cmake -S "$JTM_ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DJTM_SANITIZE=OFF >/dev/null
cmake --build "$BUILD" -j2 --target jtm-ingest jtm-devbroker jtm-synth 2>&1 | grep -E 'warning:|error:' >&2 || true
for p in jtm-ingest jtm-devbroker jtm-synth; do [ -x "$BUILD/bin/$p" ] || jtm_die "$p was not built"; done

rm -rf "$STATE"; mkdir -p "$STATE"
broker_pid=""; ingest_pid=""
cleanup() {
  [ -n "$ingest_pid" ] && kill "$ingest_pid" 2>/dev/null || true
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null || true
}
trap cleanup EXIT

"$BUILD/bin/jtm-devbroker" --topics "raw.soj:$PARTS,pseudo.soj:$PARTS,dlq.soj:$PARTS,pass.soj:$PARTS" \
  --bootstrap-file "$STATE/bootstrap" >"$STATE/devbroker.log" 2>&1 &
broker_pid=$!
jtm_wait_file "$STATE/bootstrap" 20 || { cat "$STATE/devbroker.log" >&2; jtm_die "jtm-devbroker did not start"; }
B=$(cat "$STATE/bootstrap")

# Messages ever written to a topic (sum of end offsets), or its first offsets with -2.
count() {
  local t=$1 when=${2:--1} args=() p
  for ((p = 0; p < PARTS; p++)); do args+=(-t "$t:$p:$when"); done
  kcat -b "$B" -Q "${args[@]}" 2>/dev/null | awk '{s += $NF} END {print s + 0}'
}
now() { date +%s.%N; }
# CPU seconds (user + system) a process has used so far.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
# Events per second over the CreateTime span (ms) of everything on the given topics.
span_eps() {
  local t
  for t in "$@"; do kcat -C -b "$B" -t "$t" -o beginning -e -q -f '%T\n'; done |
    awk '$1 > 0 { n++; if (!lo || $1 < lo) lo = $1; if ($1 > hi) hi = $1 }
         END { printf "%d", (hi > lo ? n / ((hi - lo) / 1000) : 0) }'
}
wait_count() { # topic... N: waits until the topics hold N together
  local n=${*: -1} c=0 t deadline=$(( $(date +%s) + ${JTM_BENCH_TIMEOUT:-900} ))
  while :; do
    [ "$(date +%s)" -lt "$deadline" ] || jtm_die "timed out waiting for $n messages on ${*:1:$#-1} (have $c)"
    kill -0 "$broker_pid" 2>/dev/null || jtm_die "jtm-devbroker died"
    c=0; for t in "${@:1:$#-1}"; do c=$((c + $(count "$t"))); done
    [ "$c" -ge "$n" ] && break
    sleep 1
  done
}

# SOJ events of a synthetic region: about 4.4 per child over 3 years.
children=$(( N * 10 / 44 + 2000 ))
jtm_log "jtm-synth: $children children, taking the first $N SOJ events"
"$BUILD/bin/jtm-synth" --seed 42 --children "$children" --years 3 --out "$STATE/synth" 2>"$STATE/synth.log"
head -n "$N" "$STATE/synth/raw.soj.ndjson" >"$STATE/raw.ndjson"
rm -rf "$STATE/synth"
have=$(wc -l <"$STATE/raw.ndjson")
[ "$have" -eq "$N" ] || jtm_die "jtm-synth gave only $have SOJ events"
bytes=$(wc -c <"$STATE/raw.ndjson")
# Keyed by line number so the events spread over the partitions (a null key sticks to one).
awk '{print NR "\t" $0}' "$STATE/raw.ndjson" |
  kcat -P -b "$B" -t raw.soj -K $'\t' -X compression.type=lz4 -X linger.ms=50 -X batch.num.messages=10000
wait_count raw.soj "$N"
rm -f "$STATE/raw.ndjson"
jtm_log "raw.soj holds $N events ($((bytes / N)) bytes each on average)"

# jtm-ingest
head -c 32 /dev/urandom >"$STATE/region.key"; chmod 600 "$STATE/region.key"
cat >"$STATE/ingest.conf" <<CONF
feed = soj
key.file = $STATE/region.key
key.id = kbench
stats.interval.ms = 5000
kafka.bootstrap.servers = $B
${JTM_BENCH_INGEST_CONF:-}
CONF
pin=(); [ -n "${JTM_BENCH_PIN:-}" ] && pin=(taskset -c 1)
[ -n "${JTM_BENCH_PERF:-}" ] && pin=("${pin[@]}" perf record -g -o "$JTM_BENCH_PERF")
t0=$(now); b0=$(cpu_of "$broker_pid")
/usr/bin/time -v -o "$STATE/ingest.time" env ${JTM_BENCH_INGEST_ENV:-} "${pin[@]}" "$BUILD/bin/jtm-ingest" -c "$STATE/ingest.conf" >"$STATE/ingest.log" 2>&1 &
time_pid=$!
sleep 0.2; ingest_pid=$(pgrep -P "$time_pid" -n || true)
wait_count pseudo.soj dlq.soj "$N"
t1=$(now); b1=$(cpu_of "$broker_pid")
[ -n "$ingest_pid" ] && kill -TERM "$ingest_pid"
wait "$time_pid" || jtm_log "jtm-ingest exited non-zero (see $STATE/ingest.log)"
ingest_pid=""
pseudo=$(count pseudo.soj); dlq=$(count dlq.soj)
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$STATE/ingest.time")
cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.2f", u + s}' "$STATE/ingest.time")
ingest_eps=$(span_eps pseudo.soj dlq.soj)
ingest_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
jtm_log "jtm-ingest: pseudo=$pseudo dlq=$dlq in ${ingest_wall}s wall (incl. group join), cpu ${cpu}s, peak RSS $((rss_kb / 1024)) MiB, broker cpu $(awk -v a="$b0" -v b="$b1" 'BEGIN {printf "%.2f", b - a}')s"

# kcat pass-through of the same events
t0=$(now); b0=$(cpu_of "$broker_pid")
( /usr/bin/time -f '%U %S' -o "$STATE/pass-c.time" kcat -C -b "$B" -t raw.soj -o beginning -e -q -f '%k\t%s\n' |
  /usr/bin/time -f '%U %S' -o "$STATE/pass-p.time" kcat -P -b "$B" -t pass.soj -K $'\t' -X compression.type=lz4 -X enable.idempotence=true -X linger.ms=5 ) &
pt_pid=$!
wait_count pass.soj "$N"
t1=$(now); b1=$(cpu_of "$broker_pid")
wait "$pt_pid" || true
pass_eps=$(span_eps pass.soj)
pass_cpu=$(cat "$STATE/pass-c.time" "$STATE/pass-p.time" 2>/dev/null | awk '{s += $1 + $2} END {printf "%.2f", s}')
pass_wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
jtm_log "kcat pass-through: $(count pass.soj) in ${pass_wall}s wall, kcat cpu ${pass_cpu}s (both), broker cpu $(awk -v a="$b0" -v b="$b1" 'BEGIN {printf "%.2f", b - a}')s"

for t in raw.soj pseudo.soj dlq.soj pass.soj; do
  lo=$(count "$t" -2)
  [ "$lo" -eq 0 ] || jtm_log "warning: $t lost $lo messages to the mock's retention: counts are not trustworthy"
done
echo "ingest_peak_rss_kb=$rss_kb ingest_cpu_s=$cpu ingest_cpu_eps=$(awk -v n="$N" -v c="$cpu" 'BEGIN {printf "%d", (c > 0 ? n / c : 0)}') ingest_wall_s=$ingest_wall passthrough_wall_s=$pass_wall"
echo "ingest_eps=$ingest_eps passthrough_eps=$pass_eps ratio=$(awk -v a="$ingest_eps" -v b="$pass_eps" 'BEGIN {printf "%.2f", a / b}')"
