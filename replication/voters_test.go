package replication

import (
	"errors"
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
