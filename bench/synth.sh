#!/usr/bin/env bash
# Benchmark of jtm-synth: release build, 100,000 children (3 years, default rates) to NDJSON files,
# pinned to one core. Best of three runs (the machine is shared; the best run is the least disturbed).
# Prints the counts per feed and type, a line with the CPU-time rate, and as last line:
#   synth_eps=<events/s, wall clock> events=<N> bytes=<B>
# Environment: JTM_BENCH_BUILD (build folder, default build), JTM_BENCH_CHILDREN (default 100000),
# JTM_BENCH_OUT (output folder, default bench/out/synth), JTM_BENCH_RUNS (default 3).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${JTM_BENCH_BUILD:-$root/build}
children=${JTM_BENCH_CHILDREN:-100000}
out=${JTM_BENCH_OUT:-$root/bench/out/synth}
runs=${JTM_BENCH_RUNS:-3}

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DJTM_SANITIZE=OFF >/dev/null
cmake --build "$build" -j2 --target jtm-synth >/dev/null
pin=()
if command -v taskset >/dev/null && taskset -c 0 true 2>/dev/null; then pin=(taskset -c 0); fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
best_eps=0 best_line= stats=
for ((i = 0; i < runs; i++)); do
    rm -rf "$out" # truncating last run's files would be timed otherwise
    # The program times itself from the first child to the files flushed and closed.
    "${pin[@]}" "$build/bin/jtm-synth" --children "$children" --seed 1 --out "$out" --stats 2>"$log"
    line=$(grep 'event=done' "$log")
    eps=$(sed -n 's/.* eps=\([0-9]*\).*/\1/p' <<<"$line")
    if ((eps > best_eps)); then
        best_eps=$eps best_line=$line stats=$(grep -v 'event=' "$log")
    fi
done
field() { sed -n "s/.* $1=\\([0-9.]*\\).*/\\1/p" <<<"$best_line"; }
echo "$stats"
echo "synth_cpu_eps=$(field cpu_eps) cpu_seconds=$(field cpu_seconds) wall_seconds=$(field seconds) runs=$runs"
echo "synth_eps=$(field eps) events=$(field events) bytes=$(field bytes)"
