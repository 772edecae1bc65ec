package replication

import (
	"time"

	"github.com/hashicorp/raft"
)

// WatchResumed calls fn with a follower's server id and how long it had been out of contact each
// time this node, leading the group, reaches that follower again after failing to. It returns a
// function that stops the watch.
//
// Why it is needed: raft retries a follower it cannot reach with an exponential backoff that grows
// to ten seconds (replication.go: failureWait·2^10) and resets it only after a successful append.
// The heartbeat, capped at half a second, notices first that the link is back; the next append may
// still be up to ten seconds away. After an outage of a few minutes that wait is most of an edge's
// catch-up time, so the node restarts the follower's replication when it hears of it (see
// Restart).
func (m *members) WatchResumed(fn func(id raft.ServerID, outage time.Duration)) (stop func()) {
	r := m.raft
	ch := make(chan raft.Observation, 64)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.ResumedHeartbeatObservation, raft.FailedHeartbeatObservation:
			return true
		}
		return false
	})
	r.RegisterObserver(obs)
	done := make(chan struct{})
	go func() {
		lastContact := map[raft.ServerID]time.Time{} // as of the first failure of the current outage
		for {
			select {
			case o := <-ch:
				switch d := o.Data.(type) {
				case raft.FailedHeartbeatObservation:
					if _, ok := lastContact[d.PeerID]; !ok {
						lastContact[d.PeerID] = d.LastContact
					}
				case raft.ResumedHeartbeatObservation:
					since, ok := lastContact[d.PeerID]
					delete(lastContact, d.PeerID)
					if ok && !since.IsZero() {
						fn(d.PeerID, time.Since(since))
					}
				}
			case <-done:
				return
			}
		}
	}()
	return func() {
		r.DeregisterObserver(obs)
		close(done)
	}
}

// RestartReplication makes the leader start replicating to a non-voter afresh, without the backoff
// its earlier failures built up: the member is removed and added again (two configuration entries;
// a non-voter is no part of any quorum, so nothing waits on it meanwhile). Voters are left alone.
// Leader only.
func (m *members) RestartReplication(id raft.ServerID) error {
	servers, err := m.Servers()
	if err != nil {
		return err
	}
	for _, s := range servers {
		if s.ID != id {
			continue
		}
		if s.Suffrage == raft.Voter {
			return nil
		}
		if err := m.RemoveServer(id); err != nil {
			return err
		}
		return m.AddNonvoter(id, s.Address)
	}
	return nil
}
