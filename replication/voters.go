package replication

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// CatchUpSlack is how many log entries a non-voter may still lack and count as caught up: one
// AppendEntries batch (raft's MaxAppendEntries default). Under a steady stream of writes a
// follower is always a few entries behind; what matters before it votes is that it is not
// minutes behind.
const CatchUpSlack = 64

// heardWithin is how recent the follower's last answer must be for its progress to count.
const heardWithin = 3 * time.Second

// ErrNotCaughtUp is returned by Promote while the non-voter's log is still behind the leader's.
var ErrNotCaughtUp = errors.New("not caught up")

// AppliedReport gives what a member last reported of its own applied index in this group (a
// shard's, through gossip), with this node's applied index as it was when that report arrived
// (or later), and whether there is a report. A log that has caught up is not yet a copy that has:
// a member that received the entries may still be applying them (a large snapshot being restored,
// a long batch), and as a voter it would count towards commits it cannot serve. Both indexes are
// the state's, which counts the entries the FSM is handed (commands, configurations) and not
// raft's no-ops: a shard that saw many elections and few writes has its raft index ahead of it on
// every member alike.
type AppliedReport func(id raft.ServerID) (applied, leaderThen uint64, ok bool)

// SetAppliedReport makes Promote also wait until the member reports an applied index within
// CatchUpSlack entries of this node's at the time of the report.
func (g *Group) SetAppliedReport(fn AppliedReport) { g.followers.setApplied(fn) }

// LastIndex is the last index of this node's raft log.
func (m *members) LastIndex() uint64 { return m.raft.LastIndex() }

// Follower is what this node, leading the group, last heard of a follower's log.
func (m *members) Follower(id raft.ServerID) (Follower, bool) { return m.followers.get(id) }

// Silent reports whether every call this node, leading the group, made to the follower in the
// last few seconds failed: it is known to be down or cut off. A follower this node has not called
// for that long (it leads since a moment) is not known to be silent.
func (m *members) Silent(id raft.ServerID) bool {
	p, ok := m.followers.get(id)
	return ok && !p.FailingSince.IsZero() && time.Since(p.FailingSince) > heardWithin
}

// Known reports whether this node, leading the group, has called the follower at all (a leader of
// a moment ago has not, and knows nothing of it yet).
func (m *members) Known(id raft.ServerID) bool {
	_, ok := m.followers.get(id)
	return ok
}

// Answers reports whether the follower answered this node, leading the group, in the last few
// seconds, and no call to it has failed since.
func (m *members) Answers(id raft.ServerID) bool {
	p, ok := m.followers.get(id)
	return ok && p.FailingSince.IsZero() && time.Since(p.Heard) <= heardWithin
}

// CaughtUp reports whether the follower id at addr answered the leader within the last few
// seconds with a log that reaches within CatchUpSlack entries of the leader's, and how many
// entries it lacks (leader only; it is what the leader heard).
func (m *members) CaughtUp(id raft.ServerID, addr raft.ServerAddress) (behind uint64, ok bool) {
	last := m.raft.LastIndex()
	p, heard := m.followers.get(id)
	if !heard || p.Address != addr {
		return last, false
	}
	if p.LastLog < last {
		behind = last - p.LastLog
	}
	return behind, behind <= CatchUpSlack && time.Since(p.Heard) <= heardWithin
}

// Promote makes the non-voter id at addr a voter once its log has caught up with the leader's
// (leader only). It returns ErrNotCaughtUp, with how far behind it is, until then; a member that
// already votes is left as it is.
func (m *members) Promote(id raft.ServerID, addr raft.ServerAddress) error {
	servers, err := m.Servers()
	if err != nil {
		return err
	}
	found := false
	for _, s := range servers {
		if s.ID == id && s.Address == addr {
			if s.Suffrage == raft.Voter {
				return nil
			}
			found = true
		}
	}
	if !found {
		return fmt.Errorf("%s: promote %s: not a member at %s", m.name, id, addr)
	}
	if behind, ok := m.CaughtUp(id, addr); !ok {
		return fmt.Errorf("%s: promote %s: %w (%d entries behind)", m.name, id, ErrNotCaughtUp, behind)
	}
	if report := m.followers.appliedReport(); report != nil {
		applied, leader, ok := report(id)
		switch {
		case !ok:
			return fmt.Errorf("%s: promote %s: %w (its log has caught up; no recent report of what it applied)", m.name, id, ErrNotCaughtUp)
		case applied+CatchUpSlack < leader:
			return fmt.Errorf("%s: promote %s: %w (its log has caught up; it applied %d of %d)", m.name, id, ErrNotCaughtUp, applied, leader)
		}
	}
	if err := m.raft.AddVoter(id, addr, 0, 10*time.Second).Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			return fmt.Errorf("%s: %w", m.name, ErrNotLeader)
		}
		return fmt.Errorf("%s: promote %s: %w", m.name, id, err)
	}
	return nil
}
