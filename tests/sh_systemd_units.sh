#!/usr/bin/env bash
# systemd-analyze verify accepts every unit in ops/systemd (templates through an instance), with
# ExecStart pointed at the binaries of this build (verify checks that the command exists).
set -euo pipefail
build=$1 src=$2
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not installed"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
units=()
for u in "$src"/ops/systemd/*.service; do
  name=$(basename "$u")
  sed "s|/usr/bin/\(jtm-[a-z-]*\)|$build/bin/\1|" "$u" >"$tmp/$name"
  bin=$(grep -o "$build/bin/jtm-[a-z-]*" "$tmp/$name" | head -n1)
  [ -x "$bin" ] || { echo "FAIL: $name starts $bin, which is not built"; exit 1; }
  case $name in *@.service) units+=("$tmp/${name%@.service}@jgz.service") ;; *) units+=("$tmp/$name") ;; esac
done
out=$(systemd-analyze verify "${units[@]}" 2>&1) || { echo "$out"; echo "FAIL: systemd-analyze verify"; exit 1; }
[ -z "$out" ] || { echo "$out"; echo "FAIL: systemd-analyze printed warnings"; exit 1; }
echo "${#units[@]} passed, 0 failed"
