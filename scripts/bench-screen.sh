#!/usr/bin/env bash
# Measures bulk screening (POST /v1/search/batch, what `fedarms screen` sends) against a one-node
# fedarms holding N records: Q queries of serial, make and model, 1% of them recorded serials and
# 99% the serials of other firearms (records generated with another seed), audit in its default
# sync durability. In the same run, the first 40,000 of those queries are sent one by one by 4
# concurrent clients (POST /v1/search), the rate a screening would get without the batch endpoint.
# ROUNDS rounds; it prints every run and the medians, with the node's CPU seconds in each phase
# (from /proc: the CPU a line costs, which the shared machine's load moves less than the rate).
# Usage: scripts/bench-screen.sh [N [Q [ROUNDS]]]   (default 1400000 1000000 3; OUT=dir, default bench-out/screen)
# PROFILE=S takes a CPU profile of the node for S seconds of the first round's screening, from the
# moment its first audit entries appear, into $OUT/cpu.prof (`go tool pprof -top $OUT/fedarms
# $OUT/cpu.prof`); the node then serves the profiler on loopback (FEDARMS_PPROF).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1400000}
Q=${2:-1000000}
ROUNDS=${3:-3}
OUT=${OUT:-bench-out/screen}
PORT=${PORT:-18082}
[ -n "${PROFILE:-}" ] && export FEDARMS_PPROF=127.0.0.1:${PPROF_PORT:-16082}
. scripts/onenode.sh
[ -s "$OUT/others-$Q.jsonl" ] || "$OUT/fedarms" gen --records "$Q" --seed 99 --out "$OUT/others-$Q.jsonl"
entries() {
  curl -s -H "Authorization: Bearer $(cat "$OUT/data/admin.token")" "http://127.0.0.1:$PORT/metrics" | grep -E '^fedarms_audit_entries_total ' || true
}
for r in $(seq 1 "$ROUNDS"); do
  if [ -n "${PROFILE:-}" ] && [ "$r" = 1 ]; then
    (e0=$(entries); for _ in $(seq 1 600); do sleep 0.5; [ "$(entries)" != "$e0" ] && break; done
     curl -s -o "$OUT/cpu.prof" "http://$FEDARMS_PPROF/debug/pprof/profile?seconds=$PROFILE") &
  fi
  "$OUT/benchtool" screen --in "$OUT/records-$N.jsonl" --others "$OUT/others-$Q.jsonl" --addr "http://127.0.0.1:$PORT" \
    --token-file "$OUT/data/admin.token" --n "$Q" --node-pid "$DEV" >"$OUT/run-$r.json"
  python3 - "$OUT/run-$r.json" "$r" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
b, o = d["batch"], d["one_by_one"]
print(f'round {sys.argv[2]}: screening {d["queries"]} queries in {b["seconds"]:.1f} s = {b["queries_per_s"]:.0f}/s ({b["hits"]} hits, {b["lines_with_results"]} lines with results), node CPU {b.get("node_cpu_s", 0):.1f} s = {b.get("node_cpu_us_per_query", 0):.0f} us a line, client CPU {b.get("client_cpu_s", 0):.1f} s, machine idle {100*b.get("machine_idle", 0):.0f}% | one by one, {o["clients"]} clients: {o["queries_per_s"]:.0f}/s, node CPU {o.get("node_cpu_us_per_query", 0):.0f} us a query')
PY
done
python3 - "$OUT" "$ROUNDS" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
runs = [json.load(open(f"{out}/run-{r}.json")) for r in range(1, rounds + 1)]
b = statistics.median(d["batch"]["queries_per_s"] for d in runs)
s = statistics.median(d["batch"]["seconds"] for d in runs)
o = statistics.median(d["one_by_one"]["queries_per_s"] for d in runs)
c = statistics.median(d["batch"].get("node_cpu_us_per_query", 0) for d in runs)
print(f"median of {rounds}: screening {s:.1f} s, {b:.0f} queries/s, node CPU {c:.0f} us a line; one by one with 4 clients {o:.0f} queries/s; ratio {b/o:.2f}")
PY
curl -s -H "Authorization: Bearer $(cat "$OUT/data/admin.token")" "http://127.0.0.1:$PORT/metrics" | grep -E '^fedarms_audit_(commits|entries)_total ' || true
