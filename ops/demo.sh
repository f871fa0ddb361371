#!/usr/bin/env bash
# The whole jtm pipeline on its embedded defaults: a local Kafka (jtm-devbroker), a private
# PostgreSQL, a synthetic region of 20,000 children over three years up to this week with a
# waiting-list spike in Dordrecht (GM0505), ambulant care (45), three jtm-ingest daemons, the
# linker, the alerter with a local webhook receiver, and the HTML report. Re-running starts the
# warehouse afresh. PostgreSQL stays up at the end so you can query it (ops/pg.sh psql).
#   ops/demo.sh [--children N] [--seed N] [--no-spike]
# --no-spike leaves the planted spike out (a region to measure false alarms on: jtm-alert backtest).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CHILDREN=20000 SEED=1 SPIKE=1
while [ $# -gt 0 ]; do
  case $1 in
    --children) CHILDREN=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --no-spike) SPIKE=0; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "usage: ops/demo.sh [--children N] [--seed N] [--no-spike]" >&2; exit 2 ;;
  esac
done

jtm_install_deps
BUILD=$JTM_ROOT/build
jtm_log "building into $BUILD"
jtm_build "$BUILD" -DCMAKE_BUILD_TYPE=Release
export JTM_BUILD=$BUILD
BIN=$BUILD/bin

STATE=$JTM_ROOT/.jtm/demo
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
rm -rf "$STATE"; mkdir -p "$STATE"; chmod 755 "$JTM_ROOT/.jtm" "$STATE"
umask 077

# --- PostgreSQL: a fresh warehouse each run (Kafka offsets in ops refer to this run's broker).
"$JTM_ROOT/ops/pg.sh" reset
eval "$("$JTM_ROOT/ops/pg.sh" env)"
PSQL=("$JTM_ROOT/ops/pg.sh" psql -X -q)

# --- Kafka: 16 partitions per topic (the mock keeps only 5 MiB per partition).
"$BIN/jtm-devbroker" --partitions 16 --bootstrap-file "$STATE/bootstrap" \
  --control-socket "$STATE/broker.sock" >"$STATE/devbroker.log" 2>&1 &
PIDS+=($!)
jtm_wait_file "$STATE/bootstrap" 20 || { cat "$STATE/devbroker.log" >&2; jtm_die "jtm-devbroker did not start"; }
BOOT=$(cat "$STATE/bootstrap")
jtm_log "broker $BOOT"

# --- Secrets: the region key of the edges, the webhook secret of the receiver (mode 600).
head -c 32 /dev/urandom >"$STATE/region.key"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$STATE/webhook.secret"
chmod 600 "$STATE/region.key" "$STATE/webhook.secret"

# --- The municipalities' webhook endpoint (one local receiver for all, verifying signatures).
HOOK_PORT=${JTM_DEMO_HOOK_PORT:-18089}
python3 "$JTM_ROOT/ops/alert-receiver.py" --port "$HOOK_PORT" --secret-file "$STATE/webhook.secret" \
  --log "$STATE/webhooks.ndjson" >"$STATE/receiver.log" 2>&1 &
PIDS+=($!)

# --- The daemons.
for i in 0 1 2; do
  feed=$(echo jgz verzuim soj | cut -d' ' -f$((i + 1)))
  "$BIN/jtm-ingest" --feed "$feed" -X key.file="$STATE/region.key" -X key.id=demo \
    -X kafka.bootstrap.servers="$BOOT" -X metrics.listen=127.0.0.1:$((9464 + i)) \
    -X stats.interval.ms=5000 >"$STATE/ingest-$feed.log" 2>&1 &
  PIDS+=($!)
done
"$BIN/jtm-linker" -X kafka.bootstrap.servers="$BOOT" -X "pg.conninfo=$JTM_PG_CONNINFO" \
  -X metrics.listen=127.0.0.1:9467 -X stats.interval_ms=5000 >"$STATE/linker.log" 2>&1 &
PIDS+=($!)
cat >"$STATE/alert.conf" <<CONF
pg.conninfo = $JTM_PG_CONNINFO
schedule.seconds = 60
deliver.backoff_initial_ms = 500
metrics.listen = 127.0.0.1:9468
route.default.url = http://127.0.0.1:$HOOK_PORT/default
route.default.secret_file = $STATE/webhook.secret
route.GM0505.url = http://127.0.0.1:$HOOK_PORT/GM0505
route.GM0505.secret_file = $STATE/webhook.secret
CONF

# --- The synthetic region: three years up to this week, a spike three weeks ago.
START=$(date -u -d "$(date -u +%Y-%m-%d) -3 years +1 day" +%Y-%m-%d)
SPIKE_WEEK=$(date -u -d "-3 weeks" +%G-W%V)
SPIKE_ARGS=()
[ "$SPIKE" = 1 ] && SPIKE_ARGS=(--spike "GM0505:45:$SPIKE_WEEK:4")
jtm_log "generating $CHILDREN children from $START, spike ${SPIKE_ARGS[*]:-none}"
"$BIN/jtm-synth" --seed "$SEED" --children "$CHILDREN" --start "$START" --years 3 \
  "${SPIKE_ARGS[@]}" --dirty 0.001 --kafka "$BOOT" --stats 2>"$STATE/synth.log"
RAW=$(grep -o '^events=[0-9]*' "$STATE/synth.log" | cut -d= -f2)
jtm_log "synth produced $RAW raw events"

metric() { # metric PORT NAME: sum of a metric's samples
  curl -fsS "http://127.0.0.1:$1/metrics" 2>/dev/null | awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%d", s }'
}
# --- Wait until the edges consumed everything and the linker loaded what they published.
deadline=$((SECONDS + 600)); last=""
while :; do
  consumed=0 published=0
  for i in 0 1 2; do
    consumed=$((consumed + $(metric $((9464 + i)) jtm_ingest_consumed_total)))
    published=$((published + $(metric $((9464 + i)) jtm_ingest_published_total)))
  done
  linked=$(metric 9467 jtm_linker_consumed_total)
  now="consumed=$consumed/$RAW published=$published linked=$linked"
  [ "$now" != "$last" ] && jtm_log "progress $now"; last=$now
  [ "$consumed" -ge "$RAW" ] && [ "$linked" -ge "$published" ] && [ "$published" -gt 0 ] && break
  [ $SECONDS -gt $deadline ] && jtm_die "pipeline did not catch up in 10 minutes (logs in $STATE)"
  sleep 1
done

# --- Alerts: started once the warehouse has caught up, as after a backfill (alerting on a
# half-loaded history would page municipalities for spikes that are only load order).
"$BIN/jtm-alert" -c "$STATE/alert.conf" >"$STATE/alert.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 30); do [ -s "$STATE/webhooks.ndjson" ] && break; sleep 1; done

"$BIN/jtm-report" -X "pg.conninfo=$JTM_PG_CONNINFO" -o "$STATE/report.html" 2>"$STATE/report.log" ||
  jtm_log "report failed (see $STATE/report.log)"

cat <<TXT

============================================================================================
 jtm demo: $RAW raw events from $CHILDREN synthetic children -> warehouse
============================================================================================
TXT
"${PSQL[@]}" -P footer=off <<'SQL'
\echo 'Loaded into the warehouse (staging.event: events and children per feed):'
SELECT feed, count(*) AS events, count(DISTINCT pid) AS children FROM staging.event GROUP BY feed ORDER BY feed;
\echo
\echo 'The ten most common client routes (wh.route.path):'
SELECT path, count(*) AS children FROM wh.route WHERE path <> '' GROUP BY path ORDER BY 2 DESC, 1 LIMIT 10;
\echo
\echo 'Waiting list this week per municipality (monitor.waiting_list_weekly, all categories):'
SELECT gemeente, sum(waiting) AS waiting FROM monitor.waiting_list_weekly
 WHERE week_start = (SELECT max(week_start) FROM monitor.waiting_list_weekly) GROUP BY gemeente ORDER BY gemeente;
\echo
\echo 'Median decision days (request -> allocation) and start days (allocation -> start) per category:'
SELECT category, count(*) AS episodes,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY decision_days) AS median_decision_days,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY start_days) AS median_start_days
  FROM wh.care_episode GROUP BY category HAVING count(*) >= 10 ORDER BY category;
SQL
rejected=0
for i in 0 1 2; do rejected=$((rejected + $(metric $((9464 + i)) jtm_ingest_dead_lettered_total))); done
echo
echo "Dead-lettered at the edge: $rejected (reasons: curl -s 127.0.0.1:9464-9466/metrics | grep rejected)"
echo
echo "Alerts received by the local webhook receiver ($STATE/webhooks.ndjson):"
if [ -s "$STATE/webhooks.ndjson" ]; then
  python3 - "$STATE/webhooks.ndjson" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    n = json.loads(line)
    print(f"  {n['status']:8} {n['municipality']} category {n['category']} week {n['week']}: "
          f"{n['observed']} waiting, upper bound {n['upper_bound']} ({n['method']}), signature verified")
PY
else
  echo "  none yet (see $STATE/alert.log)"
fi
cat <<TXT

Report:      $STATE/report.html
Query:       ops/pg.sh psql      (tables: wh.care_episode, wh.route, wh.population_month;
                                  views: monitor.*; reference: docs/warehouse.md)
Logs:        $STATE/*.log
PostgreSQL keeps running for your queries; stop it with: ops/pg.sh stop
TXT
