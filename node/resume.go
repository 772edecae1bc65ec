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
	var mu sync.Mutex
	last := map[string]time.Time{}
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
			key := shard + "/" + string(id)
			mu.Lock()
			if n.since(last[key]) < resumeEvery {
				mu.Unlock()
				return
			}
			if n.sendingSnapshot(layers[shard], id) {
				// Heartbeats fail on a link a snapshot fills; a restart would send it twice.
				mu.Unlock()
				f.log.Info("not restarting replication to a member receiving a snapshot", "shard", shard, "member", id,
					"outage", outage.Round(time.Millisecond))
				return
			}
			last[key] = n.now()
			mu.Unlock()
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

// sendingSnapshot reports whether this node is sending an InstallSnapshot of the raft group named
// layer (transport's name: "shard/europe", "control") to the member named id.
func (n *Node) sendingSnapshot(layer string, id raft.ServerID) bool {
	e, ok := n.fed.roster.ByName(string(id))
	return ok && n.fed.host.SendingSnapshot(layer, e.PeerID)
}
