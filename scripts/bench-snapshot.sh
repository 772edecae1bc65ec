#!/usr/bin/env bash
# Measures an edge whose log position was compacted away catching up by snapshot (issue 4): N
# synthetic records are loaded into a one-voter shard group, the leader snapshots and compacts its
# log, then a fresh non-voter joins and catches up. Measured over raft on libp2p streams between two
# hosts on loopback (as federated nodes run it) and, in the same run, over raft's in-memory
# transport as the baseline: catch-up time (snapshot received, restored, log tail), snapshot size,
# MB/s and records/s, RSS, anonymous memory and Go heap during the catch-up, and the two copies'
# digests (the run fails when they differ).
# Usage: scripts/bench-snapshot.sh [N]   (default 1400000, a few minutes; OUT=dir, default bench-out;
#   extra benchtool flags in SNAPSHOT_FLAGS, e.g. SNAPSHOT_FLAGS="-transport libp2p -v")
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1400000}
OUT=${OUT:-bench-out}
mkdir -p "$OUT"
echo "== build"
go build -o "$OUT/benchtool" ./scripts/benchtool
echo "== snapshot catch-up of $N records: libp2p, then the in-memory baseline"
# shellcheck disable=SC2086
"$OUT/benchtool" snapshot-catchup -records "$N" ${SNAPSHOT_FLAGS:-} | tee "$OUT/snapshot-catchup.txt"
