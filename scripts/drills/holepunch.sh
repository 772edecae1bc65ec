#!/usr/bin/env bash
# scripts/drills/holepunch.sh: NATed edges reach each other through a central relay, then directly
# by hole punching (DCUtR), across real network address translation between network namespaces
# (issue 4). Root only; see scripts/drills/README.md ("Hole punching through NAT").
#
# Topology, rebuilt for every scenario:
#
#   fp-a (edge-a) -- fp-nat-a (NAT) --+                      +-- fp-nat-b (NAT) -- fp-b (edge-b)
#   LAN 192.168.10.0/24, fd00:10::/64 |  fp-pub: bridge br0  |  LAN 192.168.20.0/24, fd00:20::/64
#                                     +-- hub (central) -----+
#           "public" segment 10.77.0.0/24 (hub .1, NATs .10 and .20) and 3fff:77::/32 (hub
#           3fff:77:1::1, NATs 3fff:77:a::1 and 3fff:77:b::1: three sites, three /48s)
#
# Each NAT router masquerades its LAN behind its address on the public segment and drops
# unsolicited inbound TCP and UDP, as a site router does; nothing outside a LAN has a route into
# it. The edges listen on their private addresses only (and have none in the roster). A scenario
# is FAMILY/TRANSPORT[/random]:
#   ip6/tcp, ip6/quic   the public segment is in 3fff::/20 (the IPv6 documentation prefix of
#                       RFC 9637, public to libp2p and routed nowhere); MASQUERADE keeps ports
#   ip4/tcp, ip4/quic   the public segment is 10.77.0.0/24, private (RFC 1918): libp2p never offers
#                       a private address for hole punching, so the edges stay relayed
#   .../random          MASQUERADE --random-fully: a new port for every destination (a symmetric
#                       NAT), against which hole punching cannot work
# Each scenario prints the evidence and a VERDICT line; the drill exits 0 when every scenario
# replicated, gossiped and held its relay reservations and ended as expected (direct for the
# default ip6 ones, relayed for the others), 1 otherwise. All test traffic stays inside the
# drill's own namespaces, which have no link to the host's network.
#
# Environment: HOLEPUNCH_SCENARIOS (default "ip6/tcp ip6/quic ip4/tcp ip4/quic"),
# HOLEPUNCH_TIMEOUT (90s: ready, replicated, gossip), HOLEPUNCH_PUNCH (30s: to wait for a direct
# connection once the edges are up), HOLEPUNCH_DIR (work directory; default a new temporary one,
# removed at the end unless HOLEPUNCH_KEEP=1), HOLEPUNCH_BIN (a directory with fedarms and
# holepunch already built), HOLEPUNCH_NAT (iptables or nft; default iptables when installed).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

skip() {
	echo "holepunch: skipped: $*"
	exit 0
}

[ "${EUID:-$(id -u)}" = 0 ] || skip "needs root (network namespaces, veth pairs, NAT rules)"
command -v ip >/dev/null || skip "the ip command (iproute2) is missing"
if ! command -v iptables >/dev/null && ! command -v nft >/dev/null && command -v apt-get >/dev/null; then
	echo "holepunch: installing iptables with apt-get (for MASQUERADE)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iptables >/dev/null 2>&1 ||
		echo "holepunch: apt-get install iptables failed"
fi
nat_backend=${HOLEPUNCH_NAT:-}
if [ -z "$nat_backend" ]; then
	if command -v iptables >/dev/null && command -v ip6tables >/dev/null; then
		nat_backend=iptables
	elif command -v nft >/dev/null; then
		nat_backend=nft
	else
		skip "neither iptables/ip6tables nor nft is installed (apt-get install iptables)"
	fi
fi
case "$nat_backend" in
iptables) command -v iptables >/dev/null && command -v ip6tables >/dev/null || skip "HOLEPUNCH_NAT=iptables but iptables/ip6tables are missing" ;;
nft) command -v nft >/dev/null || skip "HOLEPUNCH_NAT=nft but nft is missing" ;;
*)
	echo "holepunch: HOLEPUNCH_NAT is iptables or nft" >&2
	exit 2
	;;
esac

scenarios=${HOLEPUNCH_SCENARIOS:-"ip6/tcp ip6/quic ip4/tcp ip4/quic"}
timeout=${HOLEPUNCH_TIMEOUT:-90s}
punch=${HOLEPUNCH_PUNCH:-30s}
namespaces=(fp-pub fp-nat-a fp-nat-b fp-a fp-b)

for ns in "${namespaces[@]}"; do
	if ip netns list | grep -qw "$ns"; then
		echo "holepunch: network namespace $ns already exists (another run, or one that was killed);" \
			"remove it with: ip netns del $ns" >&2
		exit 1
	fi
done
if ! ip netns add fp-probe-$$ 2>/dev/null; then
	skip "cannot create network namespaces here"
fi
ip netns del fp-probe-$$

work=${HOLEPUNCH_DIR:-}
made_work=0
if [ -z "$work" ]; then
	work=$(mktemp -d /tmp/holepunch.XXXXXX)
	made_work=1
fi
mkdir -p "$work"
work=$(cd "$work" && pwd)

pids=()
child=""

# fg CMD...: run CMD in the background and wait for it. Bash runs a trap only once the foreground
# command has finished, so a TERM during a long check would otherwise wait for it; wait returns at
# once instead, and cleanup ends CMD by its pid.
fg() {
	"$@" &
	child=$!
	local rc=0
	wait "$child" || rc=$?
	child=""
	return $rc
}

# stop_agents stops the agents this drill started (by pid), then anything still inside the drill's
# namespaces (only this drill puts processes there).
stop_agents() {
	local pid
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for _ in $(seq 50); do
		local alive=0
		for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.2
	done
	for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	pids=()
	local ns
	for ns in "${namespaces[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
	done
}

# net_down deletes the namespaces; their veths, bridge, addresses and NAT rules go with them.
net_down() {
	local ns
	for ns in "${namespaces[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
}

cleanup() {
	local rc=$?
	if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null || true; fi
	stop_agents
	net_down
	if [ "$made_work" = 1 ] && [ "${HOLEPUNCH_KEEP:-}" != 1 ] && [ $rc = 0 ]; then
		rm -rf "$work"
	else
		echo "holepunch: logs and layouts kept in $work"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# nat_rules NS PUBIF RANDOM: masquerade what leaves on PUBIF; drop unsolicited inbound TCP and UDP
# (to the router itself and onwards), as a site router does. RANDOM=1 picks a random source port
# for every new mapping (endpoint-dependent: a symmetric NAT).
nat_rules() {
	local ns=$1 pubif=$2 random=$3
	if [ "$nat_backend" = iptables ]; then
		local masq=(-j MASQUERADE)
		[ "$random" = 1 ] && masq+=(--random-fully)
		local t
		for t in iptables ip6tables; do
			ip netns exec "$ns" "$t" -t nat -A POSTROUTING -o "$pubif" "${masq[@]}"
			ip netns exec "$ns" "$t" -A FORWARD -i "$pubif" -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
			ip netns exec "$ns" "$t" -A FORWARD -i "$pubif" -j DROP
			ip netns exec "$ns" "$t" -A INPUT -i "$pubif" -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
			ip netns exec "$ns" "$t" -A INPUT -i "$pubif" -p tcp -j DROP
			ip netns exec "$ns" "$t" -A INPUT -i "$pubif" -p udp -j DROP
		done
	else
		local masq=masquerade
		[ "$random" = 1 ] && masq="masquerade random,fully-random"
		ip netns exec "$ns" nft -f - <<-EOF
			table inet fpnat {
				chain postrouting { type nat hook postrouting priority srcnat; oifname "$pubif" $masq; }
				chain forward { type filter hook forward priority filter; iifname "$pubif" ct state established,related accept; iifname "$pubif" drop; }
				chain input { type filter hook input priority filter; iifname "$pubif" ct state established,related accept; iifname "$pubif" meta l4proto { tcp, udp } drop; }
			}
		EOF
	fi
}

# net_up RANDOM builds the topology above (both address families at once).
net_up() {
	local random=$1 ns
	for ns in "${namespaces[@]}"; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
	done
	ip -n fp-pub link add br0 type bridge
	ip -n fp-pub link set br0 up
	ip -n fp-pub addr add 10.77.0.1/24 dev br0
	ip -n fp-pub addr add 3fff:77:1::1/32 dev br0 nodad
	local side lan4 lan6 pub4 pub6
	for side in a b; do
		if [ $side = a ]; then lan4=192.168.10 lan6=fd00:10 pub4=10.77.0.10 pub6=3fff:77:a::1; else
			lan4=192.168.20 lan6=fd00:20 pub4=10.77.0.20 pub6=3fff:77:b::1; fi
		# uplink: fp-pub (bridge port) <-> the NAT router's public side
		ip link add "hp-up-$side" netns fp-pub type veth peer name pub netns "fp-nat-$side"
		ip -n fp-pub link set "hp-up-$side" master br0 up
		ip -n "fp-nat-$side" link set pub up
		ip -n "fp-nat-$side" addr add "$pub4/24" dev pub
		ip -n "fp-nat-$side" addr add "$pub6/32" dev pub nodad
		# LAN: the NAT router's private side <-> the edge host
		ip link add lan netns "fp-nat-$side" type veth peer name eth0 netns "fp-$side"
		ip -n "fp-nat-$side" link set lan up
		ip -n "fp-nat-$side" addr add "$lan4.1/24" dev lan
		ip -n "fp-nat-$side" addr add "$lan6::1/64" dev lan nodad
		ip -n "fp-$side" link set eth0 up
		ip -n "fp-$side" addr add "$lan4.2/24" dev eth0
		ip -n "fp-$side" addr add "$lan6::2/64" dev eth0 nodad
		ip -n "fp-$side" route add default via "$lan4.1"
		ip -n "fp-$side" -6 route add default via "$lan6::1"
		ip netns exec "fp-nat-$side" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
		nat_rules "fp-nat-$side" pub "$random"
	done
	# Nothing outside a LAN has a route into it: only the NATs' mappings lead back in.
	if ip -n fp-pub route get 192.168.10.2 >/dev/null 2>&1 || ip -n fp-nat-b -6 route get fd00:10::2 >/dev/null 2>&1; then
		echo "holepunch: a private LAN is routable from outside; the NATs would not be in the path" >&2
		return 1
	fi
}

bin=${HOLEPUNCH_BIN:-}
if [ -z "$bin" ]; then
	command -v go >/dev/null || skip "go is not installed (or set HOLEPUNCH_BIN to a directory with fedarms and holepunch)"
	bin="$work/bin"
	mkdir -p "$bin"
	echo "holepunch: building fedarms and holepunch into $bin"
	(cd "$root" && go build -o "$bin/fedarms" ./cmd/fedarms && go build -o "$bin/holepunch" ./scripts/drills/holepunch)
fi
bin=$(cd "$bin" && pwd)

# start_agent NAME: start one member's agent inside its namespace, logging to its node.log.
start_agent() {
	local want=$1 name ns cfg log
	while read -r name ns cfg log; do
		[ "$name" = "$want" ] || continue
		ip netns exec "$ns" "$bin/fedarms" agent --config "$cfg" >>"$log" 2>&1 &
		pids+=($!)
		echo "  started $name in $ns (pid $!)"
	done < <("$bin/holepunch" members -dir "$dir")
}

# run_scenario FAMILY/TRANSPORT[/random]: one fresh topology and federation, checked, torn down. A
# scenario that ends otherwise than expected sets failed; a broken setup stops the drill (set -e).
run_scenario() {
	local sc=$1 family transport mode random=0 expect hub a b
	IFS=/ read -r family transport mode <<<"$sc"
	case "$family/$transport/${mode:-}" in
	ip4/tcp/ | ip4/quic/ | ip6/tcp/ | ip6/quic/) ;;
	ip4/tcp/random | ip4/quic/random | ip6/tcp/random | ip6/quic/random) random=1 ;;
	*)
		echo "holepunch: unknown scenario $sc (want FAMILY/TRANSPORT[/random], FAMILY ip4 or ip6, TRANSPORT tcp or quic)" >&2
		exit 2
		;;
	esac
	expect=relayed
	if [ "$family" = ip6 ] && [ $random = 0 ]; then expect=direct; fi
	if [ "$family" = ip6 ]; then hub=3fff:77:1::1 a=fd00:10::2 b=fd00:20::2; else hub=10.77.0.1 a=192.168.10.2 b=192.168.20.2; fi
	dir="$work/${sc//\//-}"
	echo
	echo "== scenario $sc: hub at $hub, edges at $a and $b behind MASQUERADE$([ $random = 1 ] && echo ' --random-fully'); expect $expect"
	net_up "$random"
	"$bin/holepunch" layout -dir "$dir" -family "$family" -transport "$transport" -hub "$hub" -edge-a "$a" -edge-b "$b"
	local t0=$SECONDS
	start_agent hub
	fg "$bin/holepunch" wait -dir "$dir" -member hub -timeout 60s
	echo "  hub answering after $((SECONDS - t0))s; starting the edges"
	local started
	started=$(date +%s%3N)
	start_agent edge-a
	start_agent edge-b
	fg "$bin/holepunch" check -dir "$dir" -started "$started" -expect "$expect" -scenario "$sc" \
		-timeout "$timeout" -punch "$punch" -out "$dir/verdict.txt" || failed=1
	grep '^VERDICT' "$dir/verdict.txt" >>"$work/verdicts" || echo "VERDICT $sc: FAILED: no verdict (see above)" >>"$work/verdicts"
	stop_agents
	net_down
}

failed=0
: >"$work/verdicts"
for sc in $scenarios; do
	run_scenario "$sc"
done
echo
echo "== summary (NAT: Linux MASQUERADE in network namespaces, $nat_backend)"
cat "$work/verdicts"
if [ $failed = 1 ]; then
	HOLEPUNCH_KEEP=1
	echo "holepunch: FAILED (agents' logs, JSON, are in $work/SCENARIO/NAME/node.log)"
	exit 1
fi
echo "holepunch: ok"
