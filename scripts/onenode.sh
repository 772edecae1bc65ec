# Sourced by the one-node bench scripts (bench-http.sh, bench-screen.sh): with OUT, N and PORT set,
# it builds fedarms and benchtool into OUT, generates N records (seed 7, kept in OUT between runs),
# imports them into a fresh `fedarms dev` on 127.0.0.1:PORT, restarts it so the index is loaded as
# at a real start, and leaves it running (DEV is its pid; it is stopped when the script exits).
# PLAIN_STORAGE=1 makes the data dir without encryption at rest (to compare the two).
mkdir -p "$OUT"
go build -o "$OUT/fedarms" ./cmd/fedarms
go build -o "$OUT/benchtool" ./scripts/benchtool
[ -s "$OUT/records-$N.jsonl" ] || "$OUT/fedarms" gen --records "$N" --seed 7 --out "$OUT/records-$N.jsonl"
start_node() {
  "$OUT/fedarms" dev --data "$OUT/data" --http "127.0.0.1:$PORT" --sample 0 ${PLAIN_STORAGE:+--plain-storage} >"$OUT/dev.log" 2>&1 &
  DEV=$!
  for _ in $(seq 1 300); do grep -q "fedarms ready" "$OUT/dev.log" && return; sleep 0.2; done
  echo "node not ready; see $OUT/dev.log" >&2
  exit 1
}
rm -rf "$OUT/data"
start_node
trap 'kill $DEV 2>/dev/null || true' EXIT
"$OUT/fedarms" import --addr "http://127.0.0.1:$PORT" --token-file "$OUT/data/admin.token" "$OUT/records-$N.jsonl" | head -2
kill -TERM $DEV; wait $DEV || true
start_node
grep "fedarms ready" "$OUT/dev.log"
sleep 10 # the background huge-page collapse after the index load
