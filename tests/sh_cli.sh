#!/usr/bin/env bash
# Every program answers --help and --version (exit 0), refuses an unknown option with one line and
# exit 2, and a missing config file with one line and exit 78 — never a crash.
set -uo pipefail
build=$1
pass=0 fail=0
check() { # check DESC WANT_RC CMD...
  local desc=$1 want=$2; shift 2
  local out rc
  out=$("$@" 2>&1 </dev/null); rc=$?
  if [ "$rc" = "$want" ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL: $desc: exit $rc, want $want: $(printf %s "$out" | head -c 300)"; fi
  LAST_OUT=$out
}
progs=$(cd "$build/bin" && ls jtm-* 2>/dev/null)
[ -n "$progs" ] || { echo "no programs in $build/bin"; exit 1; }
for p in $progs; do
  bin=$build/bin/$p
  check "$p --help" 0 "$bin" --help
  printf %s "$LAST_OUT" | grep -qi 'usage' || { fail=$((fail + 1)); echo "FAIL: $p --help shows no usage"; }
  check "$p --version" 0 "$bin" --version
  printf %s "$LAST_OUT" | grep -q "^$p [0-9]" || { fail=$((fail + 1)); echo "FAIL: $p --version: $LAST_OUT"; }
  check "$p --no-such-option" 2 "$bin" --no-such-option
  [ "$(printf '%s\n' "$LAST_OUT" | grep -c .)" -le 2 ] || { fail=$((fail + 1)); echo "FAIL: $p: usage error is not short: $LAST_OUT"; }
  required=(); [ "$p" = jtm-report ] && required=(-o /dev/null)   # its one required argument
  check "$p -c /nonexistent/jtm.conf" 78 "$bin" -c /nonexistent/jtm.conf "${required[@]}"
  printf %s "$LAST_OUT" | grep -q '/nonexistent/jtm.conf' || { fail=$((fail + 1)); echo "FAIL: $p: config error does not name the file: $LAST_OUT"; }
done
# A region key with obviously low entropy (issue 16: forty "a" bytes were accepted) is refused
# at start with exit 78 and a message that says why, never the key.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' >"$tmp/weak.key"; chmod 600 "$tmp/weak.key"
check "jtm-ingest with a weak key" 78 "$build/bin/jtm-ingest" --feed soj -X key.file="$tmp/weak.key" -X key.id=k1 \
  -X kafka.bootstrap.servers=127.0.0.1:1
printf %s "$LAST_OUT" | grep -q 'too little entropy' || { fail=$((fail + 1)); echo "FAIL: weak key: $LAST_OUT"; }
printf %s "$LAST_OUT" | grep -q 'aaaa' && { fail=$((fail + 1)); echo "FAIL: weak key: the key is shown: $LAST_OUT"; }
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
