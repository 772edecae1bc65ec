#!/usr/bin/env bash
# scripts/thinlink.sh: the thin-link drill. One edge (edge-cdg) of a local federation runs in its own
# network namespace behind a veth pair limited with tc tbf (512 kbit/s each way by default); the
# rest of the federation runs outside. The drill (scripts/drills/thinlink_test.go, build tags
# localfed and thinlink) measures the edge's initial catch-up of 100,000 records, a day of changes
# after a week away, a link cut at 90% of a copy of the state (a feed copy in chunks), the same cut
# with the copy's source (ncb-fr) stopped meanwhile (the copy resumes from ncb-fr-2), and hits made
# at the edge meanwhile.
#
#   scripts/thinlink.sh            set the link up, run the drill, take the link down
#   scripts/thinlink.sh up|down    only set up or remove the namespace, the veth pair and tbf
#   scripts/thinlink.sh cut|heal   take the link down or up (the drill does this itself)
#
# Needs root and iproute2 (`ip netns`, `tc`); skips (exit 0) without them. Knobs: THINLINK_RATE
# (512kbit), THINLINK_NS (fedarms-thin), THINLINK_NET (10.231.0: .1 outside, .2 inside), and the
# drill's: THINLINK_RECORDS (100000), THINLINK_DAY (5000), THINLINK_CUT_HOLD (45s: how long the
# link stays down), THINLINK_EDGE_CAP (384kbit), THINLINK_VARIANT (empty: edge-cdg a fed holder of
# europe from ncb-fr, as localfed lays it out; raftlog: a raft non-voter caught up from the leader's
# log, the initial catch-up only), LOCALFED_KEEP=1 (keep the federation directory).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ns=${THINLINK_NS:-fedarms-thin}
net=${THINLINK_NET:-10.231.0}
rate=${THINLINK_RATE:-512kbit}
outside=fa-thin0 # the veth end outside the namespace
inside=fa-thin1  # its peer, inside

skip() {
	echo "thinlink: skipped: $1"
	exit 0
}

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces and tc)"
command -v ip >/dev/null && command -v tc >/dev/null || skip "ip or tc missing"
ip netns list >/dev/null 2>&1 || skip "ip netns unavailable"

down() {
	ip netns del "$ns" 2>/dev/null || true
	ip link del "$outside" 2>/dev/null || true
}

up() {
	down
	ip netns add "$ns"
	ip link add "$outside" type veth peer name "$inside"
	ip link set "$inside" netns "$ns"
	ip addr add "$net.1/30" dev "$outside"
	ip -n "$ns" addr add "$net.2/30" dev "$inside"
	ip link set "$outside" up
	ip -n "$ns" link set "$inside" up
	ip -n "$ns" link set lo up
	# Both directions: toward the edge (replication, receipts) and from it (hits, answers).
	tc qdisc add dev "$outside" root tbf rate "$rate" burst 32kbit latency 400ms
	ip netns exec "$ns" tc qdisc add dev "$inside" root tbf rate "$rate" burst 32kbit latency 400ms
	echo "thinlink: $ns up: $net.1 ($outside) <-> $net.2 ($inside), tbf $rate each way"
}

case "${1:-run}" in
up) up ;;
down) down ;;
cut) ip link set "$outside" down ;;
heal) ip link set "$outside" up ;;
stats) tc -s qdisc show dev "$outside" ;;
run)
	up
	trap down EXIT
	cd "$root"
	THINLINK_NS=$ns THINLINK_NET=$net THINLINK_IF=$outside \
		go test -count=1 -tags 'localfed thinlink' -run TestDrillThinLink -v -timeout 60m ./scripts/drills/
	;;
*)
	echo "usage: $0 [run|up|down|cut|heal|stats]" >&2
	exit 2
	;;
esac
