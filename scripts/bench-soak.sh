#!/usr/bin/env bash
# A hostile client beside real traffic (issue 17): a one-node fedarms holding N records is searched
# by 4 clients (benchtool search-http, 99% unrecorded serials) once quietly, then twice while
# another host (127.0.0.2) holds CONNS connections (half idle, half promising a 200 KB body that
# never comes, re-opened as the node closes them: benchtool hostile), 127.0.0.3 sends BODIES a second
# (100), alternately 2 MB and malformed, and a scraping token (a searcher token with the read limits
# of the node's defaults, from 127.0.0.4) pages through the register with SCRAPES broad queries a
# second (100): benchtool abuse, a new connection a request. The two attacked runs differ only in the attackers' CPU:
#   confined:   the attacking processes share a CPU budget of ATTACK_CPU cores (a cgroup's CPU quota),
#               as an attacker on another host brings its own CPU and takes none of the node's
#               machine; the node still does all the kernel and process work the attack asks of it
#               (accepting, resetting, reading, refusing). This is the run the 2x goal is read on.
#   unconfined: the attackers run beside the node at ATTACK_NICE on the same cores (what one
#               machine playing both sides costs, printed for comparison).
# Before the quiet run, WARMUP searches fill the node's late window (each search is remembered for
# late matches, up to notify.late_max_searches, 100,000 by default), so the runs see a node in
# service: the window full, forgetting a search for each it remembers. RSS is then read after each
# run and every 3 s; "flat" is RSS after each attacked run no more than 10% above RSS after the
# quiet run (it may fall: the heap's goal and what the runtime returns move with the collections).
# A last quiet run follows the attacks. It prints the searchers' p99 in each run and the ratios to
# the mean of the two quiet runs, every search answered or not, what each
# attacker did (connections opened and refused, bodies sent, scraper searches answered and refused:
# the attack's rate in both runs), and the node's and the machine's CPU in each run.
# Usage: scripts/bench-soak.sh [N [CONNS]]   (default 200000 1000; OUT=dir, default bench-out/soak;
#   HOSTILE_BACKOFF=1s: how long the hostile client waits after a connection refused at once, 50ms;
#   ATTACK_NICE: the attackers' niceness, 19 by default (0 shares the CPU as equals);
#   ATTACK_CPU: the confined run's CPU budget in cores, 1 by default (0: no confined run);
#   BODIES, SCRAPES: the bodies and scraping searches a second, 100 each;
#   WARMUP: searches before the quiet run, 100000 by default;
#   ATTACK_ORDER: "confined unconfined" (default) or "unconfined confined";
#   FEDARMS_BIN: a fedarms binary to run instead of building this tree's, to compare releases.)
# The confined run needs a writable cgroup CPU controller (v2 cpu.max, or v1 cpu.cfs_quota_us);
# without one it says so and is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
CONNS=${2:-1000}
OUT=${OUT:-bench-out/soak}
PORT=${PORT:-18444}
WARMUP=${WARMUP:-100000}
ATTACK_CPU=${ATTACK_CPU:-1}
BODIES=${BODIES:-100}
SCRAPES=${SCRAPES:-100}
NICE="nice -n ${ATTACK_NICE:-19}"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
if [ -n "${FEDARMS_BIN:-}" ]; then cp "$FEDARMS_BIN" "$OUT/fedarms"; else go build -o "$OUT/fedarms" ./cmd/fedarms; fi
go build -o "$OUT/benchtool" ./scripts/benchtool
[ -s "$OUT/records-$N.jsonl" ] || "$OUT/fedarms" gen --records "$N" --seed 7 --out "$OUT/records-$N.jsonl"
rm -rf "$OUT/data"
"$OUT/fedarms" dev --data "$OUT/data" --http "127.0.0.1:$PORT" --sample 0 >"$OUT/dev.log" 2>&1 &
DEV=$!
BG=
SAMPLER=
CG=
cleanup() {
  kill $DEV $BG $SAMPLER 2>/dev/null || true
  if [ -n "$CG" ]; then
    sleep 0.5
    rmdir "$CG" 2>/dev/null || true
  fi
}
trap cleanup EXIT
for _ in $(seq 1 300); do grep -q "fedarms ready" "$OUT/dev.log" && break; sleep 0.2; done
TOK="$OUT/data/admin.token"
"$OUT/fedarms" import --addr "http://127.0.0.1:$PORT" --token-file "$TOK" "$OUT/records-$N.jsonl" | head -2
# RSS, and its anonymous part (heap, stacks) beside the file pages mapped (bbolt files).
rss() { awk '/VmRSS/ {r = $2} /RssAnon/ {a = $2} /RssFile/ {f = $2} END {printf "%.0f MB (anonymous %.0f, file %.0f)", r/1024, a/1024, f/1024}' /proc/$DEV/status; }
rssmb() { awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/$DEV/status; }
# The node's CPU seconds so far (user and system), and the machine's jiffies by kind, to tell what a
# phase cost the node from what it cost the machine.
cpu() { awk '{printf "%.2f", ($14 + $15) / 100}' /proc/$DEV/stat; }
machine() { awk '/^cpu / {print $2 + $3, $4, $7 + $8, $9, $5 + $6}' /proc/stat; }
search() {
  local c0 m0
  c0=$(cpu); m0=$(machine)
  "$OUT/benchtool" search-http --client conn --in "$OUT/records-$N.jsonl" --addr "http://127.0.0.1:$PORT" \
    --token-file "$TOK" --n 20000 --clients 4 --negative 0.99 >"$OUT/search-$1.json"
  python3 - "$OUT/search-$1.json" "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c, s = d["concurrent"], d["serial_client"]
print(f'{sys.argv[2]:10}: 4 clients {c["searches_per_s"]:.0f}/s p50 {c["latency"]["p50_us"]/1000:.2f} ms p99 {c["latency"]["p99_us"]/1000:.2f} ms, failed {c.get("failed", 0)}; 1 client p99 {s["p99_us"]/1000:.2f} ms')
PY
  # user+nice, system, irq+softirq, steal, idle+iowait: jiffies (1/100 s) over the whole machine.
  read -r u1 s1 i1 st1 id1 <<<"$m0"; read -r u2 s2 i2 st2 id2 <<<"$(machine)"
  echo "            node CPU $(awk -v a="$c0" -v b="$(cpu)" 'BEGIN {printf "%.1f", b - a}') s; machine (2 cores, s): user $(((u2 - u1) / 100)) system $(((s2 - s1) / 100)) irq $(((i2 - i1) / 100)) steal $(((st2 - st1) / 100)) idle $(((id2 - id1) / 100))"
}
# confine makes a cgroup with a CPU quota of ATTACK_CPU cores and prints its process list file;
# nothing when no writable CPU controller is found.
confine() {
  local quota
  quota=$(awk -v c="$ATTACK_CPU" 'BEGIN {printf "%d", c * 100000}')
  if grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null && mkdir "/sys/fs/cgroup/fedarms-soak-$$" 2>/dev/null; then
    CG=/sys/fs/cgroup/fedarms-soak-$$
    echo "$quota 100000" >"$CG/cpu.max"
  elif [ -w /sys/fs/cgroup/cpu/cgroup.procs ] && mkdir "/sys/fs/cgroup/cpu/fedarms-soak-$$" 2>/dev/null; then
    CG=/sys/fs/cgroup/cpu/fedarms-soak-$$
    echo 100000 >"$CG/cpu.cfs_period_us"
    echo "$quota" >"$CG/cpu.cfs_quota_us"
  else
    return 0
  fi
  echo "$CG/cgroup.procs"
}
# attack NAME [PROCS]: the three attackers for 90 s (in the cgroup whose process list is PROCS, if
# given), the searches of run NAME after their first 15 s.
attack() {
  local name=$1 procs=${2:-} a0
  ATTACK_CPU0=$(cpu)
  a0=$(machine)
  (
    [ -z "$procs" ] || echo $BASHPID >"$procs"
    exec $NICE "$OUT/benchtool" hostile --addr "127.0.0.1:$PORT" --from 127.0.0.2 --conns "$CONNS" --duration 90s \
      --backoff "${HOSTILE_BACKOFF:-50ms}" >"$OUT/hostile-$name.json"
  ) &
  BG=$!
  # A scraping token, and the bodies and scraping at fixed rates: benchtool abuse, each from its own
  # address, a new connection a request (as curl in a loop, without a process a request).
  SCRAPE=$("$OUT/fedarms" tokens create --addr "http://127.0.0.1:$PORT" --token-file "$TOK" --agency "SCRAPER-${name^^}" --country FR --roles searcher --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  (
    [ -z "$procs" ] || echo $BASHPID >"$procs"
    exec $NICE "$OUT/benchtool" abuse --addr "http://127.0.0.1:$PORT" --token-file "$TOK" --scrape-token "$SCRAPE" \
      --bodies "$BODIES" --scrapes "$SCRAPES" --duration 85s >"$OUT/abuse-$name.json"
  ) &
  BG="$BG $!"
  sleep 15
  read -r u1 s1 i1 st1 id1 <<<"$a0"; read -r u2 s2 i2 st2 id2 <<<"$(machine)"
  echo "            the attack alone, 15 s: node CPU $(awk -v a="$ATTACK_CPU0" -v b="$(cpu)" 'BEGIN {printf "%.1f", b - a}') s; machine idle $(((id2 - id1) / 100)) s of 30"
  search "$name"
  wait $BG || true
  BG=
  echo "            hostile client: $(cat "$OUT/hostile-$name.json")"
  echo "            bodies and scraper: $(cat "$OUT/abuse-$name.json")"
  echo "RSS after the $name attack: $(rss)"
  echo "$(rssmb)" >"$OUT/rss-after-$name.txt"
}
sleep 5
echo "RSS before: $(rss)"
BEFORE_RSS=$(rssmb)
if [ "$WARMUP" -gt 0 ]; then
  "$OUT/benchtool" search-http --client conn --in "$OUT/records-$N.jsonl" --addr "http://127.0.0.1:$PORT" \
    --token-file "$TOK" --n "$WARMUP" --serial 0 --clients 4 --negative 0.99 >"$OUT/search-warmup.json"
  echo "RSS after $WARMUP searches to fill the late window: $(rss)"
fi
# RSS every 3 s from here to the end.
: >"$OUT/rss-series.txt"
( while kill -0 $DEV 2>/dev/null; do echo "$(rssmb)" >>"$OUT/rss-series.txt"; sleep 3; done ) &
SAMPLER=$!
search quiet
echo "RSS after the quiet searches: $(rss)"
QUIET_RSS=$(rssmb)
RUNS=""
# ATTACK_ORDER: which attacked run goes first ("confined unconfined", the default, or the reverse),
# so that runs alternate what the machine's other load falls on.
for run in ${ATTACK_ORDER:-confined unconfined}; do
  if [ "$run" = confined ]; then
    [ "$ATTACK_CPU" != 0 ] || continue
    PROCS=$(confine)
    if [ -z "$PROCS" ]; then
      echo "confined run skipped: no writable cgroup CPU controller"
      continue
    fi
    CG=$(dirname "$PROCS")
    echo "confined: the attackers share a CPU budget of $ATTACK_CPU core(s) ($CG), as an attacker on another host would bring its own CPU; the node's work for them is not confined"
    attack confined "$PROCS"
  else
    echo "unconfined: the attackers share the node's 2 cores at nice ${ATTACK_NICE:-19}"
    attack unconfined
  fi
  RUNS="$RUNS $run"
done
# Quiet again: the machine is shared, and what others run moves the quiet figure too; the ratios
# are read against the mean of the quiet runs before and after the attacks.
search quiet-after
curl -s -H "Authorization: Bearer $(cat "$TOK")" "http://127.0.0.1:$PORT/metrics" | grep -E '^fedarms_http_connections|^fedarms_http_requests_total\{route="search",code="(400|413|429)"\}|^fedarms_read_refusals_total' || true
sleep 2
kill $SAMPLER 2>/dev/null || true
SAMPLER=
echo "RSS every 3 s from the quiet run to the end (MB): $(grep -v '^$' "$OUT/rss-series.txt" | tr '\n' ' ')"
python3 - "$OUT" "$BEFORE_RSS" "$QUIET_RSS" $RUNS <<'PY'
import json, sys
out, before, quiet, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
series = [int(l) for l in open(f"{out}/rss-series.txt") if l.strip()]
q0 = json.load(open(f"{out}/search-quiet.json"))["concurrent"]["latency"]["p99_us"]
q1 = json.load(open(f"{out}/search-quiet-after.json"))["concurrent"]["latency"]["p99_us"]
q = (q0 + q1) / 2
print(f"quiet p99: {q0/1000:.2f} ms before the attacks, {q1/1000:.2f} ms after, mean {q/1000:.2f} ms")
flat = True
for r in runs:
    h = json.load(open(f"{out}/search-{r}.json"))["concurrent"]["latency"]["p99_us"]
    after = int(open(f"{out}/rss-after-{r}.txt").read())
    ok = after <= quiet * 1.10
    flat = flat and ok
    print(f"{r:10}: p99 ratio {h / q:.2f}x (under attack {h/1000:.2f} ms; against the quiet run before {h / q0:.2f}x, after {h / q1:.2f}x); "
          f"RSS after it {after} MB, {after - quiet:+d} MB from the quiet run ({100 * (after - quiet) / quiet:+.1f}%)")
print(f"RSS before {before} MB, after the quiet run {quiet} MB, max {max(series, default=0)} MB from the quiet run on; "
      f"flat (each attacked run at most 10% above the quiet run): {'yes' if flat else 'no'}")
PY
