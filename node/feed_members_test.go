package node

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/transport"
)

// A shard's leader adds a member that holds the shard as a non-voter only once the member's
// health has arrived (it may be a fed holder; its roster entry does not say), a central member at
// once; and a member whose health was cut short for size still says which shards it is fed.
func TestFeedMembersWaitForHealth(t *testing.T) {
	pid := func(s string) peer.ID { return peer.ID(s) }
	edge := transport.Entry{Name: "edge-cdg", Role: transport.RoleEdge, PeerID: pid("edge"), Shards: []string{"europe"}}
	central := transport.Entry{Name: "lyon-1", Role: transport.RoleCentral, PeerID: pid("lyon"), Shards: []string{transport.AllShards}}
	other := transport.Entry{Name: "ncb-ke", Role: transport.RoleNCB, PeerID: pid("ke"), Shards: []string{"africa"}}

	belongs := holdsOnceHeard("europe", map[string]bool{})
	if belongs(edge) || !belongs(central) || belongs(other) {
		t.Fatalf("before any health: edge %v central %v other shard %v; want only the central member", belongs(edge), belongs(central), belongs(other))
	}
	belongs = holdsOnceHeard("europe", map[string]bool{pid("edge").String(): true})
	if !belongs(edge) {
		t.Fatal("an edge whose health arrived is not added")
	}
	if belongs = holdsOnceHeard("europe", nil); !belongs(edge) {
		t.Fatal("without gossip a holder is never added")
	}

	g := &gossip{seen: map[string]seenMember{
		pid("edge").String(): {hasH: true, signed: true, health: transport.Health{Truncated: true, FedShards: []string{"europe"}}},
		pid("ke").String():   {hasH: true, signed: true, health: transport.Health{Shards: []transport.ShardHealth{{Shard: "africa", Fed: true}}}},
		pid("lyon").String(): {hasH: true, signed: false, health: transport.Health{Truncated: true, FedShards: []string{"europe"}}},
		pid("new").String():  {},
	}}
	f := &fed{gossip: g}
	if fed := f.fedMembers("europe"); len(fed) != 1 || !fed[pid("edge").String()] {
		t.Fatalf("fed holders of europe %v: want the edge (its truncated health names it; unsigned health does not count)", fed)
	}
	if fed := f.fedMembers("africa"); len(fed) != 1 || !fed[pid("ke").String()] {
		t.Fatalf("fed holders of africa %v", fed)
	}
	if heard := f.heardFrom(); len(heard) != 3 || heard[pid("new").String()] {
		t.Fatalf("heard from %v: want the three whose health arrived", heard)
	}
}
