package node

import (
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/replication"
)

// A central member joining a shard group is promoted to voter once its log has caught up with the
// leader's (replication's Promote) and, with what it signs in gossip, once it says it has applied
// the shard that far too: a member still restoring a large snapshot has the log but not the copy.
//
// A report is up to a gossip refresh old when it is read, and under a steady stream of writes the
// leader moves on meanwhile: compared with the leader's applied index of now, a member that keeps
// up would look behind for good. So the leader samples its own applied index each time it asks,
// and compares a report with the first sample taken after the report arrived: at least what it
// had applied when the member published, so the comparison errs only towards waiting.

// appliedReporting is a group whose leader can also weigh what a member reports of its applied
// index before promoting it (a shard group).
type appliedReporting interface {
	SetAppliedReport(replication.AppliedReport)
	State() *replication.State
}

// appliedSample is the leader's applied index at a moment (the node's clock).
type appliedSample struct {
	at      time.Time
	applied uint64
}

// sampleWindow is how long the leader keeps its samples: several gossip refreshes.
const sampleWindow = 30 * time.Second

// reportedApplied reads a member's applied index of shard from the health it last signed in
// gossip, with the leader's applied index (local) just after that health arrived.
func (f *fed) reportedApplied(shard string, local func() uint64) replication.AppliedReport {
	var mu sync.Mutex
	var samples []appliedSample // in time order, the last sampleWindow
	return func(id raft.ServerID) (applied, leaderThen uint64, ok bool) {
		g := f.gossip // set once gossip starts, before the reconciling that promotes
		if g == nil {
			return 0, 0, false
		}
		now := g.clock.Now()
		mu.Lock()
		samples = append(samples, appliedSample{at: now, applied: local()})
		for len(samples) > 1 && now.Sub(samples[0].at) > sampleWindow {
			samples = samples[1:]
		}
		held := append([]appliedSample(nil), samples...)
		mu.Unlock()
		e, ok := f.roster.ByName(string(id))
		if !ok {
			return 0, 0, false
		}
		sm, ok := g.snapshot()[e.PeerID.String()]
		if !ok || !sm.hasH || !sm.signed {
			return 0, 0, false
		}
		leaderThen = held[len(held)-1].applied
		for _, s := range held {
			if !s.at.Before(sm.heard) {
				leaderThen = s.applied
				break
			}
		}
		for _, s := range sm.health.Shards {
			if s.Shard == shard {
				return s.Applied, leaderThen, true
			}
		}
		return 0, 0, false
	}
}
