package replication

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/testutil"
)

// copyTo writes a group's state copy to a file and returns its meta.
func copyTo(t *testing.T, g *Group, path string) BackupMeta {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := g.CopyState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.WriteTo(f)
	if err != nil || n != c.Size() {
		t.Fatalf("copy wrote %d of %d bytes: %v", n, c.Size(), err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return c.Meta
}

func TestBackupRestoreOneNodeGroup(t *testing.T) {
	g := openTestGroup(t, t.TempDir(), nil)
	fr := Principal{Agency: "FR-NCB", Country: "FR"}
	for i := range 5 {
		apply(t, g, &Command{Op: OpCreate, Principal: fr, Records: recs(i*100, i*100+100)})
	}
	copyPath := filepath.Join(t.TempDir(), "state.db")
	m := copyTo(t, g, copyPath)
	want := g.State().Stats()
	// Written after the copy: not in the restored node.
	apply(t, g, &Command{Op: OpCreate, Principal: fr, Records: recs(900, 901)})
	g.Close()

	if m.AppliedIndex != want.AppliedIndex || m.Records != 500 || m.Digest != want.Digest.String() {
		t.Fatalf("meta %+v, state %+v", m, want)
	}
	if len(m.Configuration) != 1 || m.Configuration[0].ID != "n1" || m.Configuration[0].Suffrage != "voter" || m.ConfigurationIndex == 0 || m.ConfigurationIndex > m.AppliedIndex {
		t.Fatalf("configuration %+v at %d", m.Configuration, m.ConfigurationIndex)
	}

	// A manifest that says other than the copy is refused, naming what differs.
	bad := m
	bad.Digest = Digest{1}.String()
	if err := RestoreGroup(filepath.Join(t.TempDir(), "europe"), copyPath, bad); !errors.Is(err, ErrBackupMismatch) {
		t.Fatalf("restore with a wrong digest: %v", err)
	}

	dir := filepath.Join(t.TempDir(), "europe")
	if err := RestoreGroup(dir, copyPath, m); err != nil {
		t.Fatal(err)
	}
	if err := RestoreGroup(dir, copyPath, m); err == nil {
		t.Fatal("a restore over an existing directory was not refused")
	}
	r := openTestGroup(t, dir, nil)
	defer r.Close()
	if got := r.State().Stats(); got != want {
		t.Fatalf("restored %+v, want %+v", got, want)
	}
	if _, ok, _ := r.State().Get("FR-0000900"); ok {
		t.Fatal("a record written after the copy is in the restored state")
	}
	res := apply(t, r, &Command{Op: OpCreate, Principal: fr, Records: recs(900, 901)})
	if res.Index <= m.AppliedIndex {
		t.Fatalf("a write after the restore got index %d, at or below the copy's %d", res.Index, m.AppliedIndex)
	}
	if term, _ := strconv.ParseUint(r.raft.Stats()["term"], 10, 64); term <= m.AppliedTerm {
		t.Fatalf("term after restore %d, copy's term %d: terms went back", term, m.AppliedTerm)
	}
}

// A voter restored from a backup rejoins its group: from the log when the leader still has the
// entries after the copy, from a snapshot when it has compacted them away.
func TestBackupRestoredVoterCatchesUp(t *testing.T) {
	for _, compact := range []bool{false, true} {
		t.Run(fmt.Sprintf("compacted=%v", compact), func(t *testing.T) {
			tune := clusterTune
			if compact {
				tune = func(rc *raft.Config) {
					clusterTune(rc)
					rc.SnapshotThreshold = 4
					rc.SnapshotInterval = 50 * time.Millisecond
					rc.TrailingLogs = 2
				}
			}
			c := newCluster(t, 3, 1, tune)
			c.write(0, 300, 50)
			testutil.WaitFor(t, 10*time.Second, "every member to converge", c.converged)
			var lost *member
			for _, m := range c.members[:3] {
				if m != c.leader() {
					lost = m
					break
				}
			}
			copyPath := filepath.Join(t.TempDir(), "state.db")
			m := copyTo(t, lost.g, copyPath)
			if len(m.Configuration) != 4 || m.ConfigurationIndex == 0 || m.ConfigurationIndex > m.AppliedIndex {
				t.Fatalf("configuration %+v at %d, copy at %d", m.Configuration, m.ConfigurationIndex, m.AppliedIndex)
			}
			c.write(300, 2000, 100)
			c.kill(lost)
			c.write(2000, 2100, 100)
			if compact {
				l := c.waitLeader()
				testutil.WaitFor(t, 10*time.Second, "the leader to compact its log past the copy", func() bool {
					first, _ := l.g.logs.FirstIndex()
					return first > m.AppliedIndex+1
				})
			}
			// The machine is lost; its data dir is made again from the backup.
			lost.dir = filepath.Join(t.TempDir(), "restored")
			if err := RestoreGroup(lost.dir, copyPath, m); err != nil {
				t.Fatal(err)
			}
			c.start(lost, nil)
			testutil.WaitFor(t, 20*time.Second, "the restored voter to converge", c.converged)
			if st := lost.g.State().Stats(); st.Records != 2100 {
				t.Fatalf("restored voter holds %d records", st.Records)
			}
			if s := lost.g.Status(); s.Role != "voter" {
				t.Fatalf("restored member is a %s", s.Role)
			}
		})
	}
}

func recs(from, to int) []record.Record {
	var out []record.Record
	for i := from; i < to; i++ {
		out = append(out, rec(fmt.Sprintf("FR-%07d", i), "FR", fmt.Sprintf("S%d", i)))
	}
	return out
}
