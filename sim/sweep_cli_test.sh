#!/usr/bin/env bash
# `ramstream sweep` end to end: determinism across -j and shards (byte-identical outputs),
# sweep-merge, --resume after an interruption, and the error paths.
#   sim/sweep_cli_test.sh BINARY SOURCE_DIR
set -euo pipefail
bin=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grid=$src/sim/sweeps/worked-example-grid.textproto
fail() { echo "FAIL: $*" >&2; exit 1; }

# Exact row count and the same bytes whatever -j.
"$bin" sweep "$grid" -q -j1 -o "$tmp/j1.csv"
"$bin" sweep "$grid" -q -j2 -o "$tmp/j2.csv"
[[ $(wc -l < "$tmp/j1.csv") -eq 7 ]] || fail "expected a header and 6 rows"
cmp "$tmp/j1.csv" "$tmp/j2.csv" || fail "-j1 and -j2 differ"
# 10 Gbit/s x 250 MB/s (point 2) converges, 1 Gbit/s x 250 MB/s (point 0) does not.
awk -F, 'NR==1 {for (i = 1; i <= NF; i++) c[$i] = i; next}
         $1 == 0 && $c["outcome"] != "timeout" {exit 1}
         $1 == 2 && $c["converged"] != "true" {exit 1}' "$tmp/j1.csv" ||
  fail "unexpected outcomes"

# Shards + merge = the unsharded run, for CSV and JSON Lines.
for ext in csv jsonl; do
  "$bin" sweep "$grid" -q -j2 -o "$tmp/all.$ext"
  for i in 0 1 2; do "$bin" sweep "$grid" -q -j1 --shard $i/3 -o "$tmp/shard$i.$ext"; done
  "$bin" sweep-merge -o "$tmp/merged.$ext" "$tmp"/shard{2,0,1}.$ext
  cmp "$tmp/all.$ext" "$tmp/merged.$ext" || fail "shards + merge differ from one run ($ext)"
done
[[ $(wc -l < "$tmp/all.jsonl") -eq 6 ]] || fail "expected 6 JSON lines"

# A missing shard is an error naming the missing points.
if "$bin" sweep-merge -o "$tmp/m.csv" "$tmp/shard0.csv" "$tmp/shard1.csv" 2> "$tmp/err"; then
  fail "merge with a shard missing succeeded"
fi
grep -q "2 of 6 points missing (2, 5)" "$tmp/err" || fail "merge error: $(cat "$tmp/err")"

# Resume: cut the output inside row 3 (as a killed run leaves it), resume, same bytes.
head -c "$(($(head -n 3 "$tmp/j1.csv" | wc -c) + 17))" "$tmp/j1.csv" > "$tmp/cut.csv"
"$bin" sweep "$grid" -q --resume -o "$tmp/cut.csv"
cmp "$tmp/j1.csv" "$tmp/cut.csv" || fail "resumed output differs"
# Resuming a complete file runs nothing and changes nothing.
"$bin" sweep "$grid" --resume -o "$tmp/cut.csv" 2> "$tmp/err"
grep -q "6 of 6 points done, 0 to go" "$tmp/err" || fail "resume message: $(cat "$tmp/err")"
cmp "$tmp/j1.csv" "$tmp/cut.csv" || fail "resuming a complete file changed it"

# An existing file needs --resume or --force; another sweep's file is refused on --resume.
if "$bin" sweep "$grid" -q -o "$tmp/j1.csv" 2> "$tmp/err"; then fail "overwrote silently"; fi
grep -q "exists: --resume continues it" "$tmp/err" || fail "exists message: $(cat "$tmp/err")"
if "$bin" sweep "$grid" -q --vary bandwidth=2Gbit/s,10Gbit/s,40Gbit/s --resume \
    -o "$tmp/j1.csv" 2> "$tmp/err"; then
  fail "resumed another sweep's file"
fi
grep -q "rows of another sweep" "$tmp/err" || fail "another-sweep message: $(cat "$tmp/err")"

# Quick use with flags only: the simulate knobs plus --vary.
n=$("$bin" sweep --ram 1GiB --workload sequential --dirty-rate 100MB/s --policy ideal \
      --vary bandwidth=1Gbit/s..40Gbit/s:log:4 --vary downtime-limit=100ms,1s --count)
[[ $n == 8 ]] || fail "--count gave $n"
"$bin" sweep --ram 1GiB --workload sequential --dirty-rate 100MB/s --policy ideal \
  --vary bandwidth=1Gbit/s..40Gbit/s:log:4 -q --format jsonl > "$tmp/flags.jsonl"
[[ $(wc -l < "$tmp/flags.jsonl") -eq 4 ]] || fail "stdout JSON Lines"
grep -q '"axis_bandwidth_label":"40 Gbit/s"' "$tmp/flags.jsonl" || fail "labels"

# A point whose scenario is invalid becomes a row with an error, exit code 1.
set +e
"$bin" sweep --ram 1GiB --workload sequential --dirty-rate 100MB/s --policy ideal -q \
  --vary ram=1GiB,8000B,2GiB -o "$tmp/bad.csv" 2> "$tmp/err"
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "invalid point: exit $rc"
grep -q "point 1 (ram=8000B)" "$tmp/err" || fail "invalid point message: $(cat "$tmp/err")"
[[ $(wc -l < "$tmp/bad.csv") -eq 4 ]] || fail "invalid point: rows"

# Usage errors name the flag.
if "$bin" sweep --vary bandwidth=10Gb/s --count 2> "$tmp/err"; then fail "bad unit accepted"; fi
grep -q -- "--vary bandwidth: rate \"10Gb/s\": unknown unit" "$tmp/err" ||
  fail "bad unit message: $(cat "$tmp/err")"
if "$bin" sweep "$grid" --shard 3/3 --count 2> "$tmp/err"; then fail "bad shard accepted"; fi
grep -q "I must be in 0..2" "$tmp/err" || fail "shard message: $(cat "$tmp/err")"
echo "sweep CLI: all checks passed"
