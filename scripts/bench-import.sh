#!/usr/bin/env bash
# Measures a one-node fedarms under a full load (issue 2's numbers):
#   - import rate of N synthetic records into `fedarms dev`, against the raw bbolt batched write
#     rate of the same records on the same machine in the same run (the baseline);
#   - heap and RSS of the node after the load;
#   - exact search latency over HTTP (one client; and throughput with 4 clients);
#   - restart-to-ready time and exact search latency in-process on the loaded data.
# Usage: scripts/bench-import.sh [N]   (default 1400000; OUT=dir to keep the files, default bench-out)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1400000}
OUT=${OUT:-bench-out}
PORT=${PORT:-18080}
mkdir -p "$OUT"
echo "== build"
go build -o "$OUT/fedarms" ./cmd/fedarms
go build -o "$OUT/benchtool" ./scripts/benchtool
echo "== gen $N records"
/usr/bin/time -f "gen: %e s" "$OUT/fedarms" gen --records "$N" --seed 7 --out "$OUT/records.jsonl"
ls -l "$OUT/records.jsonl"

echo "== baseline: raw bbolt batched writes of the same records (one fsynced transaction per batch)"
for B in 1000 4000 32000; do
  "$OUT/benchtool" bolt-baseline --in "$OUT/records.jsonl" --dir "$OUT/baseline" --batch "$B" | tee "$OUT/baseline-$B.json"
done
rm -rf "$OUT/baseline"

echo "== fedarms dev, import through raft"
rm -rf "$OUT/data"
"$OUT/fedarms" dev --data "$OUT/data" --http "127.0.0.1:$PORT" --sample 0 >"$OUT/dev.log" 2>&1 &
DEV=$!
trap 'kill $DEV 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do grep -q "fedarms ready" "$OUT/dev.log" && break; sleep 0.2; done
grep "fedarms ready" "$OUT/dev.log"
START=$(date +%s.%N)
"$OUT/fedarms" import --addr "http://127.0.0.1:$PORT" --token-file "$OUT/data/admin.token" "$OUT/records.jsonl" | head -3
END=$(date +%s.%N)
python3 - "$START" "$END" "$N" <<'PY' | tee "$OUT/import.json"
import json, sys
s, e, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
print(json.dumps({"mode": "import", "records": n, "seconds": round(e - s, 2), "records_per_s": round(n / (e - s))}))
PY
echo "== memory after the load"
sleep 2
curl -s -H "Authorization: Bearer $(cat "$OUT/data/admin.token")" "http://127.0.0.1:$PORT/metrics" | grep -E '^(go_memstats_heap_inuse_bytes|go_memstats_heap_alloc_bytes|process_resident_memory_bytes|fedarms_index_records) ' | tee "$OUT/memory.txt"

echo "== exact search over HTTP"
"$OUT/benchtool" search-http --in "$OUT/records.jsonl" --addr "http://127.0.0.1:$PORT" --token-file "$OUT/data/admin.token" --n 20000 | tee "$OUT/search-http.json"

echo "== stop (SIGTERM), then restart in-process: ready time and in-process search latency"
kill -TERM $DEV; wait $DEV || true
trap - EXIT
"$OUT/benchtool" search-inproc --in "$OUT/records.jsonl" --data "$OUT/data" --n 20000 --audit async | tee "$OUT/search-inproc-async.json"
"$OUT/benchtool" search-inproc --in "$OUT/records.jsonl" --data "$OUT/data" --n 5000 --audit sync | tee "$OUT/search-inproc-sync.json"
