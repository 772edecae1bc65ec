#!/usr/bin/env bash
# Measures what TLS costs the API: import rate and search latency over HTTPS against plain HTTP in
# the same run, on the same machine, alternating the two so that drift (other load, the page cache)
# falls on both.
#   - `fedarms gen` makes N records; `federation init` and `federation cert` make the CA and the
#     node's certificate; two agent configs differ only in [tls];
#   - import: ROUNDS rounds, each importing the N records into an empty data dir over HTTP, then
#     over HTTPS (`fedarms import`, wall time);
#   - search: ROUNDS rounds on the loaded data, each restarting the node over HTTP, then HTTPS, and
#     running `benchtool search-http` (one keep-alive connection per client: HTTP/1.1, over TLS 1.3
#     for https; 4 clients; 99% of the serials not recorded).
# It prints every run and the medians.
# Usage: scripts/bench-tls.sh [N [ROUNDS]]   (default 200000 3; OUT=dir, default bench-out/tls)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
ROUNDS=${2:-3}
OUT=${OUT:-bench-out/tls}
PORT=${PORT:-18443}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
go build -o "$OUT/fedarms" ./cmd/fedarms
go build -o "$OUT/benchtool" ./scripts/benchtool
[ -s "$OUT/records-$N.jsonl" ] || "$OUT/fedarms" gen --records "$N" --seed 7 --out "$OUT/records-$N.jsonl"
rm -rf "$OUT/gs" "$OUT/cert"
"$OUT/fedarms" federation init --out "$OUT/gs" >/dev/null 2>&1
"$OUT/fedarms" federation cert --ca-dir "$OUT/gs" --name bench --host 127.0.0.1 --out "$OUT/cert" >/dev/null 2>&1
for mode in http https; do
  {
    echo 'version = 1'
    echo 'name = "bench"'
    echo 'role = "central"'
    echo "data_dir = \"$OUT/data\""
    echo "http_addr = \"127.0.0.1:$PORT\""
    if [ "$mode" = https ]; then
      echo '[tls]'
      echo "cert_file = \"$OUT/cert/tls.crt\""
      echo "key_file = \"$OUT/cert/tls.key\""
    fi
  } >"$OUT/$mode.toml"
done
CA="$OUT/gs/ca.pem"
DEV=
start_node() { # mode
  "$OUT/fedarms" agent --config "$OUT/$1.toml" >"$OUT/agent-$1.log" 2>&1 &
  DEV=$!
  for _ in $(seq 1 600); do grep -q "fedarms ready" "$OUT/agent-$1.log" && return; sleep 0.2; done
  echo "node not ready; see $OUT/agent-$1.log" >&2
  exit 1
}
stop_node() { kill -TERM "$DEV"; wait "$DEV" || true; DEV=; }
trap '[ -n "$DEV" ] && kill $DEV 2>/dev/null || true' EXIT

: >"$OUT/import.txt"
for r in $(seq 1 "$ROUNDS"); do
  for mode in http https; do
    rm -rf "$OUT/data"
    start_node "$mode"
    t0=$(date +%s.%N)
    "$OUT/fedarms" import --addr "$mode://127.0.0.1:$PORT" --ca "$CA" --token-file "$OUT/data/admin.token" "$OUT/records-$N.jsonl" >/dev/null
    t1=$(date +%s.%N)
    stop_node
    rate=$(python3 -c "print(round($N / ($t1 - $t0)))")
    echo "$mode $rate" >>"$OUT/import.txt"
    echo "round $r import $mode: $rate records/s"
  done
done
for r in $(seq 1 "$ROUNDS"); do
  for mode in http https; do
    start_node "$mode"
    sleep 5 # the background huge-page collapse after the index load
    "$OUT/benchtool" search-http --client conn --in "$OUT/records-$N.jsonl" --addr "$mode://127.0.0.1:$PORT" --ca "$CA" \
      --token-file "$OUT/data/admin.token" --n 20000 --clients 4 --negative 0.99 >"$OUT/search-$r-$mode.json"
    stop_node
    python3 - "$OUT/search-$r-$mode.json" "$r" "$mode" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c, s = d["concurrent"], d["serial_client"]
print(f'round {sys.argv[2]} search {sys.argv[3]:5}: 4 clients {c["searches_per_s"]:7.0f}/s p50 {c["latency"]["p50_us"]/1000:.2f} ms p99 {c["latency"]["p99_us"]/1000:.2f} ms | 1 client p50 {s["p50_us"]/1000:.2f} ms p99 {s["p99_us"]/1000:.2f} ms')
PY
  done
done
python3 - "$OUT" "$ROUNDS" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
imp = {}
for line in open(f"{out}/import.txt"):
    m, v = line.split()
    imp.setdefault(m, []).append(float(v))
for mode in ("http", "https"):
    runs = [json.load(open(f"{out}/search-{r}-{mode}.json")) for r in range(1, rounds + 1)]
    tput = statistics.median(d["concurrent"]["searches_per_s"] for d in runs)
    p99 = statistics.median(d["concurrent"]["latency"]["p99_us"] for d in runs) / 1000
    p99s = statistics.median(d["serial_client"]["p99_us"] for d in runs) / 1000
    p50s = statistics.median(d["serial_client"]["p50_us"] for d in runs) / 1000
    print(f"median of {rounds}, {mode:5}: import {statistics.median(imp[mode]):.0f} records/s; search 4 clients {tput:.0f}/s p99 {p99:.2f} ms; 1 client p50 {p50s:.2f} ms p99 {p99s:.2f} ms")
PY
