package replication

import (
	"context"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/testutil"
)

var frNCB = Principal{Agency: "FR-NCB", Country: "FR"}

// memberNamed is the cluster's member with id.
func (c *cluster) memberNamed(id string) *member {
	for _, m := range c.members {
		if m.id == id {
			return m
		}
	}
	c.t.Fatalf("no member %s", id)
	return nil
}

// A follower whose disk is full stops applying (no panic), says so, keeps serving reads from its
// copy, and resumes by itself once writes succeed again, ending with the same digest as the rest.
func TestHaltStorageFaultOnFollowerResumesAndConverges(t *testing.T) {
	c := newCluster(t, 3, 1, clusterTune)
	c.write(0, 100, 50)
	testutil.WaitFor(t, 20*time.Second, "every member to converge", c.converged)
	edge := c.memberNamed("n3")
	edge.g.State().InjectWriteFaults(1<<30, syscall.ENOSPC)

	c.write(100, 300, 50) // the voters go on: a non-voter is in no quorum
	testutil.WaitFor(t, 10*time.Second, "the edge to halt", func() bool { _, ok := edge.g.Halted(); return ok })
	h, _ := edge.g.Halted()
	if !strings.Contains(h.Reason, "no space left on device") || h.Since.IsZero() {
		t.Fatalf("halt %+v, want the disk's error and a start time", h)
	}
	if st := edge.g.Status(); st.Halt == nil || st.AppliedIndex >= c.waitLeader().g.State().Stats().AppliedIndex {
		t.Fatalf("status of the halted copy %+v", st)
	}
	if _, ok, err := edge.g.State().Get("FR-0000042"); !ok || err != nil {
		t.Fatalf("read from the halted copy: found %v, %v", ok, err)
	}
	if _, err := edge.g.Apply(context.Background(), &Command{Op: OpUpsert, Principal: frNCB,
		Records: []record.Record{rec("FR-X", "FR", "X")}}); !errors.Is(err, ErrHalted) {
		t.Fatalf("write through a halted group: %v, want ErrHalted", err)
	}

	edge.g.State().InjectWriteFaults(0, nil) // space is back
	testutil.WaitFor(t, 20*time.Second, "the edge to resume", func() bool { _, ok := edge.g.Halted(); return !ok })
	c.write(300, 350, 50)
	testutil.WaitFor(t, 20*time.Second, "every member to converge", c.converged)
	if got := edge.g.State().Stats().Records; got != 350 {
		t.Fatalf("resumed copy holds %d records, want 350", got)
	}
}

// A leader whose disk fails hands leadership to another voter, so writes go on; it resumes and
// converges when its disk recovers.
func TestHaltStorageFaultOnLeaderHandsOverLeadership(t *testing.T) {
	c := newCluster(t, 3, 0, clusterTune)
	c.write(0, 50, 50)
	old := c.waitLeader()
	old.g.State().InjectWriteFaults(1<<30, syscall.EIO)
	go func() { // this write is committed by the others but cannot be applied on the old leader
		_, _ = old.g.Apply(context.Background(), &Command{Op: OpUpsert, Principal: frNCB, Records: []record.Record{rec("FR-L", "FR", "L")}})
	}()
	testutil.WaitFor(t, 10*time.Second, "the old leader to halt", func() bool { _, ok := old.g.Halted(); return ok })
	testutil.WaitFor(t, 20*time.Second, "a new leader", func() bool { l := c.leader(); return l != nil && l != old })
	c.write(50, 150, 50)
	old.g.State().InjectWriteFaults(0, nil)
	testutil.WaitFor(t, 20*time.Second, "the old leader to resume", func() bool { _, ok := old.g.Halted(); return !ok })
	testutil.WaitFor(t, 20*time.Second, "every member to converge", c.converged)
	if _, ok, _ := old.g.State().Get("FR-L"); !ok {
		t.Fatal("the write committed while the leader was halted is missing from its copy")
	}
}

// Closing a halted group does not hang, and a restart re-applies from the state's applied index.
func TestHaltCloseWhileHaltedThenRestartReplays(t *testing.T) {
	dir := t.TempDir()
	g := openTestGroup(t, dir, nil)
	apply(t, g, &Command{Op: OpCreate, Principal: frNCB, Records: []record.Record{rec("FR-1", "FR", "1")}})
	g.State().InjectWriteFaults(1<<30, syscall.ENOSPC)
	go func() {
		_, _ = g.Apply(context.Background(), &Command{Op: OpCreate, Principal: frNCB, Records: []record.Record{rec("FR-2", "FR", "2")}})
	}()
	testutil.WaitFor(t, 10*time.Second, "the group to halt", func() bool { _, ok := g.Halted(); return ok })
	closed := make(chan error, 1)
	go func() { closed <- g.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close of a halted group hangs")
	}
	g = openTestGroup(t, dir, nil)
	defer g.Close()
	testutil.WaitFor(t, 10*time.Second, "FR-2 to be applied", func() bool { _, ok, _ := g.State().Get("FR-2"); return ok })
	if _, ok := g.Halted(); ok {
		t.Fatal("halted after a restart with a healthy disk")
	}
}

// futureFormat is a command format no release reads yet.
const futureFormat = CommandFormatNewest + 1

// commandFuture is a command as an imagined next release writes it: a format this release does
// not read. In these tests it is format 1 with another first byte.
func commandFuture(t *testing.T, c *Command) []byte {
	t.Helper()
	b, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	b[0] = futureFormat
	return b
}

// readsFuture is the FSM decoder of that next release: it reads the future format too.
func readsFuture(c *Command, b []byte) error {
	if len(b) > 0 && b[0] == futureFormat {
		b = append([]byte{commandVersion}, b[1:]...)
	}
	return c.UnmarshalBinary(b)
}

// An entry this release cannot decode halts the shard rather than being skipped: a restart with
// the same release halts again at the same entry, and a release that reads it applies it and what
// came after, from the state's applied index.
func TestHaltUndecodableEntryHaltsUntilAReleaseReadsIt(t *testing.T) {
	dir := t.TempDir()
	open := func(decode func(*Command, []byte) error) *Group {
		g, err := OpenGroup(GroupConfig{Shard: "europe", Dir: dir, LocalID: "n1", Bootstrap: true, Tune: fastRaft, decode: decode})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	g := open(nil)
	if err := g.WaitForLeader(context.Background()); err != nil {
		t.Fatal(err)
	}
	apply(t, g, &Command{Op: OpCreate, Principal: frNCB, Records: []record.Record{rec("FR-1", "FR", "1")}})
	before := g.State().Stats().AppliedIndex
	_ = g.raft.Apply(commandFuture(t, &Command{Op: OpCreate, Principal: frNCB, Records: []record.Record{rec("FR-2", "FR", "2")}}), time.Second)
	testutil.WaitFor(t, 10*time.Second, "the group to halt", func() bool { _, ok := g.Halted(); return ok })
	h, _ := g.Halted()
	if !strings.Contains(h.Reason, "command format 3") || !strings.Contains(h.Reason, "reads formats 1 to 2") || h.Index != before+1 || h.NeedsCommandFormat != futureFormat {
		t.Fatalf("halt %+v: want the entry's index %d and both formats named", h, before+1)
	}
	if _, err := g.Apply(context.Background(), &Command{Op: OpCreate, Principal: frNCB, Records: []record.Record{rec("FR-3", "FR", "3")}}); !errors.Is(err, ErrHalted) {
		t.Fatalf("write to a halted shard: %v", err)
	}
	if got := g.State().Stats().AppliedIndex; got != before {
		t.Fatalf("applied index moved to %d past the undecodable entry at %d", got, before+1)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}

	g = open(nil) // the same release: halts at the same entry again
	testutil.WaitFor(t, 10*time.Second, "the group to halt", func() bool { _, ok := g.Halted(); return ok })
	if h2, _ := g.Halted(); h2.Index != h.Index {
		t.Fatalf("after a restart halted at %d, before at %d", h2.Index, h.Index)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}

	g = open(readsFuture) // the release that reads the future format
	defer g.Close()
	testutil.WaitFor(t, 10*time.Second, "FR-2 to be applied", func() bool { _, ok, _ := g.State().Get("FR-2"); return ok })
	if _, ok := g.Halted(); ok {
		t.Fatal("still halted with a release that reads the entry")
	}
}

// An entry that bypassed the leader's checks (committed directly, as a faulty or hostile leader
// could) with an empty id, an id with spaces or 200 KB of remarks is refused as an item on every
// replica: no panic, the valid items of the same entry applied, every copy equal.
func TestHaltBadItemsCommittedAreRefusedAsItemsEverywhere(t *testing.T) {
	c := newCluster(t, 3, 1, clusterTune)
	bad := []record.Record{rec("", "FR", "E"), rec("FR 1", "FR", "S"), rec("FR-2", "FR", "R"), rec("FR-3", "FR", "T"), rec("FR-OK", "FR", "OK")}
	bad[2].Remarks = strings.Repeat("x", 200<<10)
	bad[3].Type = "trebuchet"
	var res Result
	var err error
	for attempt := 0; attempt < 100; attempt++ {
		if res, err = c.waitLeader().g.Apply(context.Background(), &Command{Op: OpUpsert, Principal: frNCB, Records: bad}); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 1 || len(res.Errors) != 4 {
		t.Fatalf("result %+v, want 1 applied and 4 refused", res)
	}
	for i, want := range []string{"id", "id", "remarks", "type"} {
		if e := res.Errors[i]; e.Index != i || e.Code != CodeInvalid || e.Field != want || !strings.HasPrefix(e.Message, want+":") {
			t.Fatalf("item %d refused as %+v, want %s naming %s", i, e, CodeInvalid, want)
		}
	}
	del, err := c.waitLeader().g.Apply(context.Background(), &Command{Op: OpDelete, Principal: frNCB, IDs: []string{"", "FR-OK"}})
	if err != nil || del.Applied != 1 || len(del.Errors) != 1 || del.Errors[0].Field != "id" {
		t.Fatalf("delete of an empty id: %+v %v", del, err)
	}
	testutil.WaitFor(t, 20*time.Second, "every member to converge", c.converged)
	for _, m := range c.members {
		if _, ok := m.g.Halted(); ok {
			t.Fatalf("%s halted on a bad item", m.id)
		}
		if st := m.g.State().Stats(); st.Records != 0 {
			t.Fatalf("%s holds %d records", m.id, st.Records)
		}
	}
}

// A command that declares far more records than its bytes can hold is refused before anything is
// sized by the count.
func TestCommandHugeRecordCountRefusedWithoutAllocating(t *testing.T) {
	c := &Command{Op: OpUpsert, Principal: frNCB}
	b, _ := c.MarshalBinary()
	b = b[:len(b)-1]
	pad := make([]byte, 1<<20)
	b = append(binary.AppendUvarint(b, uint64(len(pad))), pad...)
	allocs := testing.AllocsPerRun(5, func() {
		var x Command
		if err := x.UnmarshalBinary(b); err == nil {
			t.Fatal("accepted")
		}
	})
	var x Command
	ms1 := memAlloc()
	_ = x.UnmarshalBinary(b)
	ms2 := memAlloc()
	if ms2-ms1 > 1<<20 || allocs > 5 {
		t.Fatalf("decoding a %d-byte command allocated %d bytes in %.0f allocations", len(b), ms2-ms1, allocs)
	}
	var ve *VersionError
	if err := x.UnmarshalBinary([]byte{9, 1}); !errors.As(err, &ve) || ve.Found != 9 || ve.Reads != CommandFormatNewest {
		t.Fatalf("a command of format 9: %v", err)
	}
}

func memAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}
