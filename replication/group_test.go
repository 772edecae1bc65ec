package replication

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/internal/record"
)

// recorder is an Observer that keeps what it was told.
type recorder struct {
	mu       sync.Mutex // guards changes, restored
	changes  []Change
	restored int
}

func (r *recorder) Applied(_ string, cs []Change) {
	r.mu.Lock()
	r.changes = append(r.changes, cs...)
	r.mu.Unlock()
}

func (r *recorder) Restored(string, *State) {
	r.mu.Lock()
	r.restored++
	r.mu.Unlock()
}

func fastRaft(c *raft.Config) {
	c.HeartbeatTimeout = 50 * time.Millisecond
	c.ElectionTimeout = 50 * time.Millisecond
	c.LeaderLeaseTimeout = 50 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
}

func openTestGroup(t *testing.T, dir string, obs Observer) *Group {
	t.Helper()
	g, err := OpenGroup(GroupConfig{Shard: "europe", Dir: dir, LocalID: "n1", Bootstrap: true, Observer: obs, Tune: fastRaft})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.WaitForLeader(ctx); err != nil {
		t.Fatal(err)
	}
	return g
}

func rec(id, country, serial string) record.Record {
	return record.Record{ID: id, Serial: serial, Make: "Glock", Calibre: "9x19", Type: "pistol",
		RecordingCountry: country, Status: "stolen"}
}

func apply(t *testing.T, g *Group, cmd *Command) Result {
	t.Helper()
	res, err := g.Apply(context.Background(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestGroupWritesAndOwnership(t *testing.T) {
	obs := &recorder{}
	g := openTestGroup(t, t.TempDir(), obs)
	defer g.Close()
	fr := Principal{Agency: "FR-NCB", Country: "FR"}
	de := Principal{Agency: "DE-NCB", Country: "DE"}

	res := apply(t, g, &Command{Op: OpCreate, Principal: fr, Records: []record.Record{rec("FR-1", "FR", "A1"), rec("DE-1", "DE", "B1")}})
	if res.Applied != 1 || len(res.Errors) != 1 || res.Errors[0].Code != CodeForbidden || res.Errors[0].Index != 1 {
		t.Fatalf("create as FR: %+v", res)
	}
	res = apply(t, g, &Command{Op: OpCreate, Principal: fr, Records: []record.Record{rec("FR-1", "FR", "A1")}})
	if len(res.Errors) != 1 || res.Errors[0].Code != CodeConflict {
		t.Fatalf("second create: %+v", res)
	}
	// DE may not change or delete a French record, even by claiming it for DE.
	res = apply(t, g, &Command{Op: OpUpdate, Principal: de, Records: []record.Record{rec("FR-1", "DE", "A2")}})
	if len(res.Errors) != 1 || res.Errors[0].Code != CodeForbidden {
		t.Fatalf("update by DE: %+v", res)
	}
	res = apply(t, g, &Command{Op: OpDelete, Principal: de, IDs: []string{"FR-1"}})
	if len(res.Errors) != 1 || res.Errors[0].Code != CodeForbidden {
		t.Fatalf("delete by DE: %+v", res)
	}
	// The General Secretariat (admin) may act for FR.
	res = apply(t, g, &Command{Op: OpUpdate, Principal: Principal{Agency: "GS", Admin: true}, Records: []record.Record{rec("FR-1", "FR", "A3")}})
	if res.Applied != 1 {
		t.Fatalf("update by admin: %+v", res)
	}
	r, ok, err := g.State().Get("FR-1")
	if err != nil || !ok || r.Serial != "A3" {
		t.Fatalf("get: %+v %v %v", r, ok, err)
	}
	res = apply(t, g, &Command{Op: OpDelete, Principal: fr, IDs: []string{"FR-1", "FR-404"}})
	if res.Applied != 1 || len(res.Errors) != 1 || res.Errors[0].Code != CodeNotFound {
		t.Fatalf("delete: %+v", res)
	}
	if st := g.State().Stats(); st.Records != 0 || st.Digest != (Digest{}) {
		t.Fatalf("after delete of everything: %+v", st)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.changes) != 3 { // create, update, delete
		t.Fatalf("observer saw %d changes", len(obs.changes))
	}
}

func TestGroupRestartKeepsDataAndDoesNotReapply(t *testing.T) {
	dir := t.TempDir()
	g := openTestGroup(t, dir, nil)
	fr := Principal{Agency: "FR-NCB", Country: "FR"}
	for i := 0; i < 20; i++ {
		apply(t, g, &Command{Op: OpUpsert, Principal: fr, Records: []record.Record{rec(fmt.Sprintf("FR-%d", i), "FR", fmt.Sprint(i))}})
	}
	before := g.State().Stats()
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	obs := &recorder{}
	g = openTestGroup(t, dir, obs)
	defer g.Close()
	apply(t, g, &Command{Op: OpUpsert, Principal: fr, Records: []record.Record{rec("FR-x", "FR", "x")}})
	after := g.State().Stats()
	if after.Records != before.Records+1 || after.AppliedIndex <= before.AppliedIndex {
		t.Fatalf("before %+v after %+v", before, after)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.changes) != 1 {
		t.Fatalf("entries before the restart were applied again: %d changes", len(obs.changes))
	}
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct{ bytes.Buffer }

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { return nil }
func (s *memSink) Close() error  { return nil }

func TestSnapshotAndRestore(t *testing.T) {
	g := openTestGroup(t, t.TempDir(), nil)
	defer g.Close()
	fr := Principal{Agency: "FR-NCB", Country: "FR"}
	var batch []record.Record
	for i := 0; i < 50000; i++ {
		batch = append(batch, rec(fmt.Sprintf("FR-%06d", i), "FR", fmt.Sprintf("S%d", i)))
	}
	apply(t, g, &Command{Op: OpUpsert, Principal: fr, Records: batch})
	if err := g.Snapshot(); err != nil {
		t.Fatal(err)
	}
	want := g.State().Stats()

	snap, err := g.State().snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	raw := sink.Bytes()

	obs := &recorder{}
	other, err := OpenState(t.TempDir() + "/state.db")
	if err != nil {
		t.Fatal(err)
	}
	f := &fsm{shard: "europe", state: other, observer: obs}
	if err := f.Restore(io.NopCloser(bytes.NewReader(raw))); err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	got := other.Stats()
	if got != want {
		t.Fatalf("restored %+v, want %+v", got, want)
	}
	if r, ok, _ := other.Get("FR-012345"); !ok || r.Serial != "S12345" {
		t.Fatalf("restored record %+v", r)
	}
	if obs.restored != 1 {
		t.Fatal("observer not told of restore")
	}
	// A damaged snapshot is refused and leaves the state as it was.
	bad := append([]byte(nil), raw...)
	bad[len(bad)/2] ^= 0xff
	if err := f.Restore(io.NopCloser(bytes.NewReader(bad))); err == nil {
		t.Fatal("damaged snapshot accepted")
	}
	if other.Stats() != want {
		t.Fatal("failed restore changed the state")
	}
}

func TestCommandCodecRejectsCorruption(t *testing.T) {
	c := &Command{Op: OpUpsert, Principal: Principal{Agency: "FR-NCB", Country: "FR"}, Records: []record.Record{rec("a", "FR", "1")}}
	b, _ := c.MarshalBinary()
	for i := 0; i < len(b); i++ {
		var x Command
		if err := x.UnmarshalBinary(b[:i]); err == nil {
			t.Fatalf("truncated command at %d accepted", i)
		}
	}
	var x Command
	if err := x.UnmarshalBinary(b); err != nil || x.Records[0].ID != "a" {
		t.Fatalf("round trip: %v %+v", err, x)
	}
}
