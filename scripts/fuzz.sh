#!/usr/bin/env bash
# Runs every fuzz target of the module (each func FuzzXxx in a _test.go file) for DURATION (default
# 60s), one target at a time on one worker, and prints a line per target: package, time, execs, new
# inputs that widened coverage, and ok or FAIL. Go fuzzes one target per invocation.
#
#   scripts/fuzz.sh [DURATION] [TARGET-REGEXP]     e.g. scripts/fuzz.sh 10m 'FuzzReadFrame|FuzzCommand'
#
# A crash is written to PKG/testdata/fuzz/FuzzXxx/ and shown; commit that file with the fix as the
# regression input (plain `go test` runs every corpus file as a test). Inputs that only widened
# coverage stay in Go's cache ($(go env GOCACHE)/fuzz). Exit 1 when any target failed.
set -euo pipefail
cd "$(dirname "$0")/.."

dur=${1:-60s}
only=${2:-.}
failed=0
total_start=$(date +%s)
printf '%-24s %-14s %6s %11s %5s  %s\n' target package time execs new result
while read -r file target; do
  [[ $target =~ $only ]] || continue
  pkg=$(dirname "$file")
  start=$(date +%s)
  if out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$dur" -fuzzminimizetime 2000x -parallel 1 "$pkg" 2>&1); then
    result=ok
  elif grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
    # Go's fuzzer sometimes reports its own time running out while a worker is between inputs as
    # a failure, with no failing input: the time was up, nothing crashed.
    result="ok (time ran out mid-input)"
  else
    result=FAIL
    failed=1
  fi
  last=$(grep -o 'execs: [0-9]* .*new interesting: [0-9]*' <<<"$out" | tail -1 || true)
  execs=$(sed -n 's/^execs: \([0-9]*\) .*/\1/p' <<<"$last")
  new=$(sed -n 's/.*new interesting: \([0-9]*\)$/\1/p' <<<"$last")
  printf '%-24s %-14s %5ss %11s %5s  %s\n' "$target" "${pkg#./}" "$(($(date +%s) - start))" "${execs:-0}" "${new:-0}" "$result"
  if [ "$result" = FAIL ]; then
    tail -40 <<<"$out" | sed 's/^/    /'
  fi
done < <(find . -name '*_test.go' -not -path './.git/*' -print0 | xargs -0 grep -o '^func Fuzz[A-Za-z0-9_]*' |
  sed 's/:func / /' | sort)
echo "fuzzing took $(($(date +%s) - total_start))s"
exit "$failed"
