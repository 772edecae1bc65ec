#!/usr/bin/env bash
# Runs the multi-process federation drills (scripts/drills, build tag localfed; each drill starts its
# own federation with scripts/localfed) and prints a summary of what they measured:
#   a. localfed up time; N records imported at ncb-fr reaching every holder; a single record written
#      at ncb-fr searchable at both edges (p50/p99);
#   b. an edge killed (SIGKILL) and, separately, cut while records are written and deleted: time to
#      converge after restart/heal, searches and staleness during the cut;
#   c. the central leader killed: time to a new leader, to resumed writes, nothing acknowledged lost;
#   d. an NCB refused on another country's record at every node.
# Usage: scripts/bench-federation.sh [--short] [RUN-REGEXP]
#   --short   the CI size (LOCALFED_SHORT=1) and only drills a and b, in about two minutes
#   sizes: LOCALFED_RECORDS (100000), LOCALFED_PROBES (200), LOCALFED_WRITES (50000), LOCALFED_DELETES (1000)
#   OUT=dir keeps the binaries, the log and the measures (default bench-out);
#   LOCALFED_BIN=dir uses fedarms and localfedtool built there instead of building them
set -uo pipefail
cd "$(dirname "$0")/.."
RUN='TestDrill'
if [ "${1:-}" = --short ]; then
	export LOCALFED_SHORT=1
	RUN='TestDrill(Replication|EdgeOutage)'
	shift
fi
RUN=${1:-$RUN}
OUT=${OUT:-bench-out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export LOCALFED_RESULTS="$OUT/federation-measures.txt"
: >"$LOCALFED_RESULTS"

# Build once for every drill (each drill's federation runs these binaries).
echo "== build"
mkdir -p "$OUT/bin"
if [ -z "${LOCALFED_BIN:-}" ]; then
	go build -o "$OUT/bin/fedarms" ./cmd/fedarms && go build -o "$OUT/bin/localfedtool" ./scripts/localfedtool || {
		echo "build failed" >&2
		exit 1
	}
	export LOCALFED_BIN="$OUT/bin"
fi

echo "== drills: go test -count=1 -tags localfed -v -run '$RUN' ./scripts/drills/ -timeout 30m"
t0=$SECONDS
go test -count=1 -tags localfed -v -run "$RUN" ./scripts/drills/ -timeout 30m 2>&1 | tee "$OUT/federation-drills.log"
status=${PIPESTATUS[0]}

echo
echo "== summary ($((SECONDS - t0))s; log: $OUT/federation-drills.log)"
# MEASURE drill=a name=value unit  ->  a  name  value  unit
awk '{ split($2, d, "="); split($3, kv, "="); printf "%-6s %-40s %14s %s\n", d[2], kv[1], kv[2], $4 }' "$LOCALFED_RESULTS" | sort -s -k1,1
echo
grep -E '^(--- |    --- )(PASS|FAIL)' "$OUT/federation-drills.log" || true
if [ "$status" -ne 0 ]; then
	echo
	echo "== what the drills said (errors and notes)"
	grep -E '_test\.go:[0-9]+: ' "$OUT/federation-drills.log" | grep -v MEASURE | grep -Ev 'localfed up:$|---- ' | head -40
fi
exit "$status"
