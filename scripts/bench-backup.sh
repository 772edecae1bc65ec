#!/usr/bin/env bash
# Measures an online backup of a one-node fedarms holding N records while it serves searches, and
# the restore of that backup (issue 13: backup time and size, the searches' p99 during the backup
# against p99 without it in the same run, restore time).
#   - scripts/onenode.sh: `fedarms gen` makes N records, `fedarms dev --sample 0` imports them, the
#     node restarts and settles;
#   - ROUNDS rounds of: `benchtool search-http` alone (baseline), then the same run while
#     `fedarms backup --out` runs again and again, back to back, from just before the searches
#     begin until they end (a backup of 1.4M records takes a few seconds, a search run longer),
#     then again with the backups paced (`--rate RATE`, MB/s); the script reports how much of each
#     search run the backups covered, each backup's time and the size of one. The backups are
#     written under BKOUT (default OUT): on the node's machine they share its disk, which a backup
#     taken from another machine does not (BKOUT=/dev/shm/... approximates that);
#   - then `fedarms restore` of the last backup into a new data dir, timed, and the restored node
#     started on it, its shard digests compared with the original's.
# Usage: scripts/bench-backup.sh [N [ROUNDS [SEARCHES]]]  (default 1400000 3 4000; OUT=dir, default
# bench-out/backup; RATE=50; BKOUT=dir)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1400000}
ROUNDS=${2:-3}
SEARCHES=${3:-4000}
OUT=${OUT:-bench-out/backup}
PORT=${PORT:-18083}
RATE=${RATE:-50}
BKOUT=${BKOUT:-$OUT}
. scripts/onenode.sh
ADDR="http://127.0.0.1:$PORT"
TOKEN="$OUT/data/admin.token"
search() {
  "$OUT/benchtool" search-http --client conn --in "$OUT/records-$N.jsonl" --addr "$ADDR" \
    --token-file "$TOKEN" --n "$SEARCHES" --clients 4 --negative 0.99 >"$1"
}
now() { date +%s.%N; }
# during LABEL R [FLAGS...]: a search run while backups (with FLAGS) run back to back, into BKOUT.
during() {
  local label=$1 r=$2
  shift 2
  local dir="$BKOUT/bk-$label-$r"
  rm -rf "$dir" "$OUT/stop"
  mkdir -p "$dir"
  (
    i=0
    while [ ! -e "$OUT/stop" ]; do
      i=$((i + 1))
      s=$(now)
      "$OUT/fedarms" backup --addr "$ADDR" --token-file "$TOKEN" --out "$dir/$i" "$@" >"$dir/$i.txt"
      echo "$i $s $(now)" >>"$dir/times"
      [ "$i" -gt 1 ] && rm -rf "$dir/$((i - 1))"
    done
  ) &
  LOOP=$!
  sleep 0.3 # the first backup's stream has begun
  s0=$(now)
  search "$OUT/$label-$r.json"
  s1=$(now)
  touch "$OUT/stop"
  wait $LOOP
  python3 - "$OUT" "$dir" "$label" "$r" "$s0" "$s1" <<'PY'
import json, os, statistics, sys
out, dir, label, r, s0, s1 = *sys.argv[1:5], float(sys.argv[5]), float(sys.argv[6])
b, d = json.load(open(f"{out}/base-{r}.json")), json.load(open(f"{out}/{label}-{r}.json"))
times = [tuple(map(float, l.split()[1:])) for l in open(f"{dir}/times")]
covered = sum(max(0, min(e, s1) - max(s, s0)) for s, e in times) / (s1 - s0)
last = max(int(n) for n in os.listdir(dir) if n.isdigit())
size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(f"{dir}/{last}") for f in fs)
took = [e - s for s, e in times]
def lat(x): return x["concurrent"]["latency"]
print(f"round {r} {label}: {len(times)} backups back to back, {statistics.median(took):.1f} s each (median; min {min(took):.1f}, max {max(took):.1f}), "
      f"{size/1e6:.0f} MB each, covering {covered*100:.0f}% of the search run")
print(f"  searches, 4 clients, without a backup: {b['concurrent']['searches_per_s']:.0f}/s p50 {lat(b)['p50_us']/1000:.2f} ms p99 {lat(b)['p99_us']/1000:.2f} ms"
      f" | during: {d['concurrent']['searches_per_s']:.0f}/s p50 {lat(d)['p50_us']/1000:.2f} ms p99 {lat(d)['p99_us']/1000:.2f} ms")
print(f"  one client after them: without p99 {b['serial_client']['p99_us']/1000:.2f} ms | during p99 {d['serial_client']['p99_us']/1000:.2f} ms")
open(f"{out}/last-backup", "w").write(f"{dir}/{last}")
PY
}
for r in $(seq 1 "$ROUNDS"); do
  search "$OUT/base-$r.json"
  during full "$r" --rate 0
  during paced "$r" --rate "$RATE"
done
curl -s -H "Authorization: Bearer $(cat "$TOKEN")" "$ADDR/v1/shards" >"$OUT/shards-original.json"
kill -TERM $DEV; wait $DEV || true
rm -rf "$OUT/restored"
t0=$(now)
"$OUT/fedarms" restore --from "$(cat "$OUT/last-backup")" --data "$OUT/restored" | head -1
t1=$(now)
echo "restore: $(python3 -c "print(f'{$t1-$t0:.1f}')") s"
"$OUT/fedarms" dev --data "$OUT/restored" --http "127.0.0.1:$PORT" --sample 0 >"$OUT/restored.log" 2>&1 &
DEV=$!
for _ in $(seq 1 600); do grep -q "fedarms ready" "$OUT/restored.log" && break; sleep 0.2; done
grep "fedarms ready" "$OUT/restored.log"
curl -s -H "Authorization: Bearer $(cat "$OUT/restored/admin.token")" "$ADDR/v1/shards" >"$OUT/shards-restored.json"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
a = {s["shard"]: s for s in json.load(open(f"{out}/shards-original.json"))["shards"]}
b = {s["shard"]: s for s in json.load(open(f"{out}/shards-restored.json"))["shards"]}
same = all(a[k]["digest"] == b[k]["digest"] and a[k]["records"] == b[k]["records"] for k in a) and a.keys() == b.keys()
print(f"restored node: {sum(s['records'] for s in b.values())} records in {len(b)} shards, digests equal to the original's: {same}")
PY
