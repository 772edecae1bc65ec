package replication

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/internal/testutil"
)

// Every voter of a group is lost; the group is rebuilt around one of them from its backup. A
// holder that survived with entries committed after the backup must neither skip the rebuilt
// entries nor be overwritten: it halts the shard, keeps its copy and names the entries only it may
// hold, whether the rebuilt leader reaches it with entries (its log still has the copy's index) or
// with a snapshot (it compacted past it). Rebuilt by the operator, the copy converges.
func TestRecoverGroupSurvivorHalts(t *testing.T) {
	for _, compacted := range []bool{false, true} {
		t.Run(fmt.Sprintf("survivor_compacted=%v", compacted), func(t *testing.T) {
			c := newCluster(t, 3, 1, clusterTune)
			survivor := c.members[3]
			c.write(0, 300, 50)
			testutil.WaitFor(t, 10*time.Second, "every member to converge", c.converged)
			lyon := c.members[0]
			copyPath := filepath.Join(t.TempDir(), "state.db")
			m := copyTo(t, lyon.g, copyPath)
			// Committed after the backup: the survivor holds these, the backup does not.
			c.write(300, 500, 20)
			testutil.WaitFor(t, 10*time.Second, "every member to converge", c.converged)
			held := survivor.g.State().Stats()
			if held.Records != 500 || held.AppliedIndex <= m.AppliedIndex {
				t.Fatalf("survivor holds %d records at %d, backup at %d", held.Records, held.AppliedIndex, m.AppliedIndex)
			}
			if compacted {
				// The survivor snapshots and compacts its log past the backup's index.
				rc := survivor.g.raft.ReloadableConfig()
				rc.TrailingLogs = 1
				if err := survivor.g.raft.ReloadConfig(rc); err != nil {
					t.Fatal(err)
				}
				if err := survivor.g.raft.Snapshot().Error(); err != nil {
					t.Fatal(err)
				}
				if first, _ := survivor.g.logs.FirstIndex(); first <= m.AppliedIndex {
					t.Fatalf("survivor's log starts at %d, the backup is at %d", first, m.AppliedIndex)
				}
			}
			for _, v := range c.members[:3] {
				c.kill(v)
			}

			// With no voter left, no write commits; the group is rebuilt around lyon.
			lyon.dir = filepath.Join(t.TempDir(), "rebuilt")
			if err := RecoverGroup(lyon.dir, copyPath, m, nil, Recovery{ID: lyon.id}); err == nil {
				t.Fatal("a recovery without an address was not refused")
			}
			if err := RecoverGroup(lyon.dir, copyPath, m, nil, Recovery{ID: lyon.id, Address: lyon.id}); err != nil {
				t.Fatal(err)
			}
			c.start(lyon, nil)
			l := c.waitLeader()
			if l != lyon {
				t.Fatalf("leader %s, want the rebuilt %s", l.id, lyon.id)
			}
			servers, err := lyon.g.Servers()
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range servers {
				if s.Suffrage == raft.Voter && s.ID != raft.ServerID(lyon.id) {
					t.Fatalf("rebuilt configuration keeps voter %s: %+v", s.ID, servers)
				}
			}
			if term, _ := strconv.ParseUint(lyon.g.raft.Stats()["term"], 10, 64); term <= m.AppliedTerm+RecoverTermGap {
				t.Fatalf("rebuilt term %d, want above %d", term, m.AppliedTerm+RecoverTermGap)
			}
			c.write(1000, 1300, 10)
			if st := lyon.g.State().Stats(); st.Records != 600 {
				t.Fatalf("rebuilt group holds %d records, want 300 from the backup and 300 written since", st.Records)
			}

			var h Halt
			testutil.WaitFor(t, 20*time.Second, "the survivor to halt on the rebuilt history", func() bool {
				var ok bool
				h, ok = survivor.g.Halted()
				return ok
			})
			t.Logf("survivor halted: %s", h.Reason)
			if h.DivergedTo != held.AppliedIndex || h.Index <= m.AppliedIndex || h.Index > held.AppliedIndex {
				t.Fatalf("halt names entries %d to %d; survivor applied %d, backup at %d", h.Index, h.DivergedTo, held.AppliedIndex, m.AppliedIndex)
			}
			if st := survivor.g.State().Stats(); st.Records != 500 || st.Digest != held.Digest {
				t.Fatalf("survivor's copy changed while halted: %d records (%s), had %d (%s)", st.Records, st.Digest, held.Records, held.Digest)
			}

			// The operator keeps what it holds elsewhere, then rebuilds the copy from the group.
			c.kill(survivor)
			survivor.dir = filepath.Join(t.TempDir(), "fresh")
			c.configure = nil
			c.start(survivor, nil)
			testutil.WaitFor(t, 20*time.Second, "the rebuilt copy to converge", c.converged)
			if _, ok := survivor.g.Halted(); ok {
				t.Fatal("rebuilt copy still halted")
			}
		})
	}
}

func TestDivergedRule(t *testing.T) {
	st := Stats{AppliedIndex: 10, AppliedTerm: 3}
	for _, c := range []struct {
		index, term uint64
		want        bool
	}{
		{5, 2, false},  // a replay
		{5, 3, false},  // a replay
		{10, 3, false}, // the last applied entry again
		{10, 4, true},  // same index, another term
		{10, 2, true},
		{5, 4, true},   // a newer term below the applied index
		{11, 9, false}, // a new entry
	} {
		if got := diverged(c.index, c.term, st); got != c.want {
			t.Errorf("diverged(%d, %d) at %d/%d = %v", c.index, c.term, st.AppliedIndex, st.AppliedTerm, got)
		}
	}
	if diverged(1, 5, Stats{}) {
		t.Error("an empty copy diverged")
	}
}
