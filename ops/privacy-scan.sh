#!/usr/bin/env bash
# Privacy scan of a whole installation (docs/access.md, Privacy scan): every table of the
# warehouse, every pseudonymised topic and the daemon logs, for citizen numbers, postcodes, and
# the birth dates and names of the raw input. Findings are printed with a redacted hint only.
#   ops/privacy-scan.sh [-d CONNINFO] [-b BOOTSTRAP] [-t TOPIC]... [--raw FILE]... [LOG]...
# -d: the warehouse (a superuser login; default $JTM_PG_CONNINFO; "-" skips the database).
# -b: the Kafka bootstrap servers; the topics are the -t ones, else every topic named pseudo.*.
# --raw: raw NDJSON input (e.g. jtm-synth --out) to learn names and birth dates from.
# Exit: 0 nothing found, 1 findings, 2 usage, others as jtm-privacy-scan (69 unreachable, ...).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

conninfo=${JTM_PG_CONNINFO:-}
bootstrap=""
topics=()
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -d) [ $# -ge 2 ] || usage; conninfo=$2; shift 2 ;;
    -b) [ $# -ge 2 ] || usage; bootstrap=$2; shift 2 ;;
    -t) [ $# -ge 2 ] || usage; topics+=("$2"); shift 2 ;;
    --raw) [ $# -ge 2 ] || usage; args+=(--raw "$2"); shift 2 ;;
    -h|--help) usage ;;
    --) shift; break ;;
    -*) echo "privacy-scan: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
BIN=${JTM_BUILD:-$JTM_ROOT/build}/bin/jtm-privacy-scan
[ -x "$BIN" ] || jtm_die "$BIN not built"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 700 "$work"

if [ -n "$bootstrap" ]; then
  if [ ${#topics[@]} -eq 0 ]; then
    while IFS= read -r t; do topics+=("$t"); done < <(
      kcat -b "$bootstrap" -L -m 10 2>/dev/null | sed -n 's/^  topic "\(pseudo\.[^"]*\)".*/\1/p' | sort -u)
  fi
  i=0
  for t in "${topics[@]}"; do
    i=$((i + 1))
    # key and value of every message, from the beginning to the current end
    kcat -b "$bootstrap" -C -t "$t" -o beginning -e -q -f 'key=%k value=%s\n' >"$work/topic-$i.txt" 2>"$work/kcat.err" ||
      { cat "$work/kcat.err" >&2; jtm_die "cannot read topic $t"; }
    ln -s "$work/topic-$i.txt" "$work/topic:$t"
    args+=("$work/topic:$t")
  done
  jtm_log "privacy-scan: ${#topics[@]} topics"
fi
if [ -n "$conninfo" ] && [ "$conninfo" != "-" ]; then
  args=(--pg "$conninfo" "${args[@]}")
fi
[ ${#args[@]} -gt 0 ] || [ $# -gt 0 ] || usage
rc=0
"$BIN" -X log.level=info "${args[@]}" "$@" || rc=$?
exit $rc
