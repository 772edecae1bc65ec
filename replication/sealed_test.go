package replication

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/seal"
	"github.com/fedarms/fedarms/internal/testutil"
)

// filesHolding lists the files under dir whose bytes contain needle.
func filesHolding(t *testing.T, dir string, needle []byte) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, needle) {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// Every member seals with its own data key: a snapshot a far-behind member receives must cross
// the wire plain (the sender opens it with its key, the receiver seals it with its own), and no
// file of any member may hold a serial.
func TestSealedClusterKeepsNoSerialAtRestAndSnapshotsCrossPlain(t *testing.T) {
	keys := map[string]*seal.Key{}
	tune := func(rc *raft.Config) {
		clusterTune(rc)
		rc.SnapshotThreshold = 4
		rc.SnapshotInterval = 50 * time.Millisecond
		rc.TrailingLogs = 2
	}
	var mu sync.Mutex // guards keys: members start from the test and from restarts
	configure := func(m *member, gc *GroupConfig) {
		mu.Lock()
		defer mu.Unlock()
		if keys[m.id] == nil {
			k, err := seal.NewKey(seal.Generate())
			if err != nil {
				t.Fatal(err)
			}
			keys[m.id] = k
		}
		gc.Key = keys[m.id]
	}
	c := newClusterWith(t, 3, 1, tune, configure)
	edge := c.members[3]
	c.write(0, 200, 50)
	testutil.WaitFor(t, 10*time.Second, "every member to converge", c.converged)
	c.setCut(edge, true)
	c.write(200, 1500, 100)
	l := c.leader()
	testutil.WaitFor(t, 10*time.Second, "the leader to compact its log past the edge", func() bool {
		first, _ := l.g.logs.FirstIndex()
		return first > edge.g.State().Stats().AppliedIndex+1
	})
	c.setCut(edge, false)
	// Generous: a loaded machine (the whole suite at once) has taken more than 15 s here.
	testutil.WaitFor(t, 45*time.Second, "every member to converge", c.converged)
	if snaps, _ := filepath.Glob(filepath.Join(edge.dir, "snapshots", "*")); len(snaps) == 0 {
		t.Fatal("edge caught up without a snapshot")
	}
	c.kill(edge)
	c.start(edge, nil)
	if r, ok, err := edge.g.State().Get("FR-0001499"); !ok || err != nil || r.Serial != "S1499" {
		t.Fatalf("after restart: %+v %v %v", r, ok, err)
	}
	// Record ids stay readable (they are the records bucket's keys); serials must not.
	for _, m := range c.members {
		if found := filesHolding(t, m.dir, sealedSerial); len(found) > 0 {
			t.Errorf("%s: the serial is readable in %v", m.id, found)
		}
	}
}

// sealedSerial is a serial the test writes (it also prefixes S12340..S12349, which it does not).
var sealedSerial = []byte("S1234")

// A state file sealed with one key does not open with another: it reports the error, it does not
// read noise as records.
func TestSealedStateRefusesAnotherKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	k1, _ := seal.NewKey(seal.Generate())
	k2, _ := seal.NewKey(seal.Generate())
	s, err := OpenSealedState(path, k1)
	if err != nil {
		t.Fatal(err)
	}
	r := rec("FR-1", "FR", "ZZSERIAL99")
	if _, err := s.applyBatch([]appliedEntry{{index: 1, term: 1, cmd: &Command{Op: OpUpsert, Principal: Principal{Country: "FR"}, Records: []record.Record{r}}, result: &Result{}}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if found := filesHolding(t, filepath.Dir(path), []byte("ZZSERIAL99")); len(found) > 0 {
		t.Fatalf("serial readable in %v", found)
	}
	s, err = OpenSealedState(path, k2)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.Get("FR-1"); err == nil {
		t.Fatal("a record sealed with another key was read")
	}
}

// SealGroupDir turns a plain group's files into sealed ones that the group opens with the key:
// records, log entries and the newest snapshot, which still restores to the same digest.
func TestSealGroupDirConvertsAPlainGroup(t *testing.T) {
	dir := t.TempDir()
	g := openTestGroup(t, dir, nil)
	var recs []record.Record
	for i := range 50 {
		recs = append(recs, rec(fmt.Sprintf("FR-%03d", i), "FR", fmt.Sprintf("PLAINSER%03d", i)))
	}
	apply(t, g, &Command{Op: OpUpsert, Principal: Principal{Country: "FR"}, Records: recs})
	if err := g.Snapshot(); err != nil {
		t.Fatal(err)
	}
	apply(t, g, &Command{Op: OpUpsert, Principal: Principal{Country: "FR"}, Records: []record.Record{rec("FR-999", "FR", "PLAINSER999")}})
	want := g.State().Stats()
	g.Close()
	if found := filesHolding(t, dir, []byte("PLAINSER")); len(found) == 0 {
		t.Fatal("the plain group holds no serial: the check below means nothing")
	}
	key, _ := seal.NewKey(seal.Generate())
	if err := SealGroupDir(dir, key); err != nil {
		t.Fatal(err)
	}
	if found := filesHolding(t, dir, []byte("PLAINSER")); len(found) > 0 {
		t.Fatalf("readable after sealing: %v", found)
	}
	files, err := raft.NewFileSnapshotStore(dir, 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := files.List()
	if len(list) != 1 {
		t.Fatalf("%d snapshots after sealing", len(list))
	}
	_, rc, err := sealedSnapshots{FileSnapshotStore: files, key: key}.Open(list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	_, st, err := restoreFile(filepath.Join(t.TempDir(), "state.db"), key, rc)
	rc.Close()
	if err != nil || st.Records != 50 {
		t.Fatalf("restore of the sealed snapshot: %+v %v", st, err)
	}
	g2, err := OpenGroup(GroupConfig{Shard: "europe", Dir: dir, LocalID: "n1", Bootstrap: true, Tune: fastRaft, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer g2.Close()
	if got := g2.State().Stats(); got.Digest != want.Digest || got.Records != 51 {
		t.Fatalf("after sealing: %+v, want %+v", got, want)
	}
	if r, ok, err := g2.State().Get("FR-999"); !ok || err != nil || r.Serial != "PLAINSER999" {
		t.Fatalf("record after sealing: %+v %v %v", r, ok, err)
	}
	var l raft.Log
	last, _ := g2.logs.LastIndex()
	if err := g2.logs.GetLog(last, &l); err != nil {
		t.Fatalf("log entry after sealing: %v", err)
	}
}
