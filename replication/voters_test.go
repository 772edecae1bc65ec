package replication

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/internal/testutil"
)

// A new member joins as a non-voter, is refused promotion while its log is behind (it is cut off
// while the voters write), and becomes a voter once it has caught up; the group then survives the
// loss of an original voter with the new one in its quorum.
func TestPromoteWaitsForCatchUp(t *testing.T) {
	c := newCluster(t, 3, 1, clusterTune)
	newcomer := c.members[3]
	c.setCut(newcomer, true)
	c.write(0, 10000, 50) // 200 entries, well past CatchUpSlack
	l := c.waitLeader()
	id, addr := raft.ServerID(newcomer.id), raft.ServerAddress(newcomer.id)
	if err := l.g.Promote(id, addr); !errors.Is(err, ErrNotCaughtUp) {
		t.Fatalf("promote of a member cut off while 200 entries were written: %v", err)
	}
	if _, ok := l.g.CaughtUp(id, addr); ok {
		t.Fatal("a cut-off member counts as caught up")
	}
	c.setCut(newcomer, false)
	testutil.WaitFor(t, 15*time.Second, "the newcomer to be promoted", func() bool {
		l := c.leader()
		if l == nil {
			return false
		}
		err := l.g.Promote(id, addr)
		if err != nil && !errors.Is(err, ErrNotCaughtUp) && !errors.Is(err, ErrNotLeader) {
			t.Fatal(err)
		}
		return err == nil
	})
	servers, err := c.waitLeader().g.Servers()
	if err != nil {
		t.Fatal(err)
	}
	voters := 0
	for _, s := range servers {
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	if voters != 4 {
		t.Fatalf("configuration after promotion: %+v", servers)
	}
	// A voter of the same id at another address is never turned into a non-voter at the new
	// address (raft would hand an empty log the old one's vote).
	if err := c.waitLeader().g.AddNonvoter(id, "elsewhere"); err == nil {
		t.Fatal("a voter's address was replaced by AddNonvoter")
	}
	// One original voter lost: the three left, the newcomer among them, are a majority of four.
	for _, m := range c.members[:3] {
		if m != c.leader() {
			c.kill(m)
			break
		}
	}
	c.write(10000, 10500, 100)
	testutil.WaitFor(t, 15*time.Second, "the three remaining voters to converge", c.converged)
}

// A member whose log has caught up is not promoted until it reports having applied it too.
func TestPromoteWaitsForAppliedState(t *testing.T) {
	c := newCluster(t, 3, 1, clusterTune)
	newcomer := c.members[3]
	c.write(0, 2000, 10) // 200 entries, well past CatchUpSlack
	testutil.WaitFor(t, 10*time.Second, "every member to converge", c.converged)
	id, addr := raft.ServerID(newcomer.id), raft.ServerAddress(newcomer.id)
	var reported atomic.Uint64 // what the newcomer last said it applied; 0: nothing heard
	for _, m := range c.members[:3] {
		g := m.g
		g.SetAppliedReport(func(got raft.ServerID) (uint64, uint64, bool) {
			if got != id || reported.Load() == 0 {
				return 0, 0, false
			}
			return reported.Load(), g.State().Stats().AppliedIndex, true
		})
	}
	testutil.WaitFor(t, 10*time.Second, "the newcomer's log to count as caught up", func() bool {
		l := c.leader()
		_, ok := l.g.CaughtUp(id, addr)
		return ok
	})
	if err := c.waitLeader().g.Promote(id, addr); !errors.Is(err, ErrNotCaughtUp) {
		t.Fatalf("promote with no report of the newcomer's applied index: %v", err)
	}
	reported.Store(1) // applying a snapshot, say
	if err := c.waitLeader().g.Promote(id, addr); !errors.Is(err, ErrNotCaughtUp) || !strings.Contains(err.Error(), "it applied 1 of") {
		t.Fatalf("promote of a member that applied 1 entry: %v", err)
	}
	testutil.WaitFor(t, 15*time.Second, "the newcomer to be promoted once it reports its applied index", func() bool {
		reported.Store(newcomer.g.State().Stats().AppliedIndex)
		l := c.leader()
		if l == nil {
			return false
		}
		err := l.g.Promote(id, addr)
		if err != nil && !errors.Is(err, ErrNotCaughtUp) && !errors.Is(err, ErrNotLeader) {
			t.Fatal(err)
		}
		return err == nil
	})
}
