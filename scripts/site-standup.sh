#!/usr/bin/env bash
# Stands up a new airport edge against a running local federation (scripts/localfed up DIR) the
# way the runbook says a site is set up, and times it: `site init` (config, data dir, node key, the
# request), the General Secretariat's `federation sign` and `federation admit` (on lyon-1, over
# HTTPS with the federation's CA), `site join` (the signed entry and the roster), then the agent,
# until it prints its ready line; then `fedarms doctor` on the new site. The new node keeps running
# (its pid in SITE/agent.pid); stop it with `kill $(cat SITE/agent.pid)`.
# Usage: scripts/site-standup.sh LOCALFED_DIR SITE_DIR [NAME]   (NAME default edge-cdg-2; FEDARMS=binary)
set -euo pipefail
LF=$1 S=$2 NAME=${3:-edge-cdg-2}
F=${FEDARMS:-$LF/bin/fedarms}
[ -x "$F" ] || F=$(command -v fedarms)
rm -rf "$S" && mkdir -p "$S"
api=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print([n for n in d['nodes'] if n['name']=='lyon-1'][0]['api'])" "$LF/federation.json")
pub=$(sed -n 's/^ *root_pub = "\(.*\)"/\1/p' "$LF/lyon-1/node.toml" | head -1)
free() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
p2p=$(free) http=$(free)
t0=$(date +%s.%N)
"$F" site init --role edge --country FR --name "$NAME" --dir "$S/etc" --data "$S/data" --root-pub "$pub" \
  --addr "/ip4/127.0.0.1/tcp/$p2p" --listen "/ip4/127.0.0.1/tcp/$p2p" --http "127.0.0.1:$http" >"$S/init.out"
peer=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['peer_id'])" "$S/etc/request.json")
"$F" federation sign --root-key "$LF/root.key" --name "$NAME" --role edge --country FR --peer-id "$peer" \
  --addr "/ip4/127.0.0.1/tcp/$p2p" --shards europe >"$S/entry.json"
"$F" federation admit "$S/entry.json" --addr "$api" --token-file "$LF/lyon-1/admin.token" --ca "$LF/ca.pem" >"$S/admit.out"
"$F" site join "$S/entry.json" --roster "$LF/roster.json" --dir "$S/etc" >"$S/join.out"
"$F" agent --config "$S/etc/fedarms.toml" >"$S/agent.log" 2>&1 &
echo $! >"$S/agent.pid"
for _ in $(seq 1 600); do grep -q "fedarms ready" "$S/agent.log" && break; sleep 0.1; done
t1=$(date +%s.%N)
grep "fedarms ready" "$S/agent.log"
python3 -c "import sys; print('site stood up in %.2f s (site init to ready)' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$t1"
"$F" doctor --config "$S/etc/fedarms.toml" || true
