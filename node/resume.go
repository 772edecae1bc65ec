package node

import (
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// resumeAfter is the outage after which a returning member's replication is restarted: by then
// raft's retry backoff to it has grown past a second, and it doubles with every failure up to ten
// seconds (see replication.Group.WatchResumed).
const resumeAfter = 2 * time.Second

// resumeEvery limits restarts per member and shard, so a flapping link cannot churn the group's
// configuration.
const resumeEvery = 10 * time.Second

// restartable is a raft group whose replication to a member can be restarted: a shard group or the
// control group.
type restartable interface {
	WatchResumed(fn func(id raft.ServerID, outage time.Duration)) (stop func())
	RestartReplication(id raft.ServerID) error
	IsLeader() bool
}

// watchResumed restarts the replication to a non-voter when this node leads one of its shards (or the control group) and
// hears from it again after an outage: an edge back from hours offline starts catching up at once
// instead of after raft's backoff (up to ten seconds).
func (n *Node) watchResumed() {
	f := n.fed
	gate := &resumeGate{now: n.now, sending: n.sendingSnapshot, last: map[string]time.Time{}}
	groups := map[string]restartable{}
	layers := map[string]string{} // the raft layer's group name of each
	for _, shard := range n.held {
		groups[shard] = n.groups[shard]
		layers[shard] = "shard/" + shard
	}
	if f.control != nil {
		groups["control"] = f.control
		layers["control"] = "control"
	}
	var stops []func()
	for shard, g := range groups {
		stops = append(stops, g.WatchResumed(func(id raft.ServerID, outage time.Duration) {
			if outage < resumeAfter || !g.IsLeader() {
				return
			}
			switch gate.admit(shard, layers[shard], id) {
			case resumeRecent:
				return
			case resumeSnapshotting:
				f.log.Info("not restarting replication to a member receiving a snapshot", "shard", shard, "member", id,
					"outage", outage.Round(time.Millisecond))
				return
			}
			go func() { // raft's observer must not wait on a configuration change
				if err := g.RestartReplication(id); err != nil {
					f.log.Warn("restarting replication to a returning member", "shard", shard, "member", id, "error", err)
					return
				}
				f.log.Info("restarted replication to a returning member", "shard", shard, "member", id, "outage", outage.Round(time.Millisecond))
			}()
		}))
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		<-f.stop
		for _, stop := range stops {
			stop()
		}
	}()
}

// resumeVerdict is what resumeGate decides about a returning member.
type resumeVerdict int

const (
	resumeRestart      resumeVerdict = iota // restart its replication now
	resumeRecent                            // restarted within resumeEvery: leave it
	resumeSnapshotting                      // a snapshot to it is on its way: leave it
)

// resumeGate decides whether a returning member's replication is restarted: at most once per
// resumeEvery per member and group, and never while this node sends it a snapshot, since on a thin
// link the snapshot itself makes heartbeats fail and a restart would send the snapshot again beside
// the first copy, which then cannot resume.
type resumeGate struct {
	now     func() time.Time
	sending func(layer string, id raft.ServerID) bool

	mu   sync.Mutex
	last map[string]time.Time // guarded by mu; the last restart per group and member
}

// admit is the verdict for member id of group shard, whose raft layer is named layer; a restart it
// admits counts toward resumeEvery.
func (r *resumeGate) admit(shard, layer string, id raft.ServerID) resumeVerdict {
	key := shard + "/" + string(id)
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.last[key]; ok && r.now().Sub(t) < resumeEvery {
		return resumeRecent
	}
	if r.sending(layer, id) {
		return resumeSnapshotting
	}
	r.last[key] = r.now()
	return resumeRestart
}

// sendingSnapshot reports whether this node is sending an InstallSnapshot of the raft group named
// layer (transport's name: "shard/europe", "control") to the member named id.
func (n *Node) sendingSnapshot(layer string, id raft.ServerID) bool {
	e, ok := n.fed.roster.ByName(string(id))
	return ok && n.fed.host.SendingSnapshot(layer, e.PeerID)
}
