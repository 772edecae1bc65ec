package node

import (
	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/replication"
)

// A central member joining a shard group is promoted to voter once its log has caught up with the
// leader's (replication's Promote) and, with what it signs in gossip, once it says it has applied
// the shard that far too: a member still restoring a large snapshot has the log but not the copy.

// appliedReporting is a group whose leader can also weigh what a member reports of its applied
// index before promoting it (a shard group).
type appliedReporting interface {
	SetAppliedReport(replication.AppliedReport)
}

// reportedApplied reads a member's applied index of shard from the health it last signed in
// gossip. A stale report can only understate what the member applied, so it delays a promotion
// and never hastens one.
func (f *fed) reportedApplied(shard string) replication.AppliedReport {
	return func(id raft.ServerID) (uint64, bool) {
		g := f.gossip // set once gossip starts, before the reconciling that promotes
		if g == nil {
			return 0, false
		}
		e, ok := f.roster.ByName(string(id))
		if !ok {
			return 0, false
		}
		sm, ok := g.snapshot()[e.PeerID.String()]
		if !ok || !sm.hasH || !sm.signed {
			return 0, false
		}
		for _, s := range sm.health.Shards {
			if s.Shard == shard {
				return s.Applied, true
			}
		}
		return 0, false
	}
}
