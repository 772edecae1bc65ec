package replication

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/testutil"
)

// Format 2 reads back as the same command as format 1; every single damaged byte of it is refused
// (a checksum, format or parse error), never read as another command.
func TestCommandFormatCheckedDetectsEveryDamagedByte(t *testing.T) {
	cmds := []*Command{
		{Op: OpUpsert, Principal: frNCB, Records: []record.Record{rec("FR-1", "FR", "S1"), rec("FR-2", "FR", "S2")}},
		{Op: OpDelete, Principal: Principal{Agency: "IPSG", Admin: true}, IDs: []string{"FR-1", "KE-9"}},
	}
	for _, c := range cmds {
		v1, _ := c.MarshalFormat(CommandFormatLegacy)
		v2, err := c.MarshalFormat(CommandFormatChecked)
		if err != nil {
			t.Fatal(err)
		}
		if v2[0] != CommandFormatChecked || len(v2) != len(v1)+crcSize {
			t.Fatalf("format 2 is %d bytes starting %d; format 1 is %d bytes", len(v2), v2[0], len(v1))
		}
		var a, b Command
		if err := a.UnmarshalBinary(v1); err != nil {
			t.Fatal(err)
		}
		if err := b.UnmarshalBinary(v2); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("format 1 reads %+v, format 2 reads %+v", a, b)
		}
		for i := range v2 {
			for _, flip := range []byte{0x01, 0x80} {
				d := append([]byte(nil), v2...)
				d[i] ^= flip
				var x Command
				err := x.UnmarshalBinary(d)
				if err == nil {
					t.Fatalf("byte %d flipped by %02x: read as %+v", i, flip, x)
				}
				var ce *ChecksumError
				if i > 0 && !errors.As(err, &ce) {
					t.Fatalf("byte %d flipped: %v, want a checksum error", i, err)
				}
			}
		}
	}
	if _, err := cmds[0].MarshalFormat(futureFormat); err == nil {
		t.Fatal("a format this release does not know was written")
	}
}

// readsFormat1Only is the FSM decoder of the release before format 2 (08e5491): format 1 only.
func readsFormat1Only(c *Command, b []byte) error {
	if len(b) > 0 && b[0] != CommandFormatLegacy {
		return &VersionError{Found: b[0], Reads: CommandFormatLegacy}
	}
	return c.UnmarshalBinary(b)
}

// A mixed-release shard: while the upgrade is not finalized the voters write format 1 and a holder
// on the release before reads everything. Once they write format 2, that holder halts at the first
// such entry, naming the format, and applies nothing after it while the others go on; restarted
// on a release that reads format 2, it catches up and the digests end equal.
func TestFormatHeldBackUntilFinalizedThenOldHolderHaltsAndResumesUpgraded(t *testing.T) {
	old := map[string]bool{"n3": true}
	var mu sync.Mutex
	c := newCluster(t, 3, 0, clusterTune)
	c.configure = func(m *member, gc *GroupConfig) {
		mu.Lock()
		defer mu.Unlock()
		if old[m.id] {
			gc.decode = readsFormat1Only
		}
	}
	// The holder on the earlier release joins as a non-voter.
	edge := &member{id: "n3", dir: t.TempDir()}
	c.members = append(c.members, edge)
	c.start(edge, nil)
	testutil.WaitFor(t, 10*time.Second, "the edge added", func() bool {
		return c.waitLeader().g.AddNonvoter("n3", "n3") == nil
	})

	c.write(0, 200, 50) // format 1: the default
	testutil.WaitFor(t, 20*time.Second, "every member to converge on format 1", c.converged)
	if _, ok := edge.g.Halted(); ok {
		t.Fatal("the earlier release halted on format 1")
	}

	for _, m := range c.members[:3] { // finalized: the voters write format 2
		if err := m.g.SetCommandFormat(CommandFormatChecked); err != nil {
			t.Fatal(err)
		}
	}
	before := edge.g.State().Stats().AppliedIndex
	c.write(200, 400, 50)
	testutil.WaitFor(t, 10*time.Second, "the earlier release to halt", func() bool { _, ok := edge.g.Halted(); return ok })
	h, _ := edge.g.Halted()
	if h.NeedsCommandFormat != CommandFormatChecked || !strings.Contains(h.Reason, "command format 2") || h.Index <= before {
		t.Fatalf("halt %+v, want one naming command format 2 past index %d", h, before)
	}
	if got := edge.g.State().Stats().Records; got != 200 {
		t.Fatalf("the halted copy holds %d records, want the 200 written in format 1", got)
	}
	leader := c.waitLeader()
	if got := leader.g.State().Stats().Records; got != 400 {
		t.Fatalf("the leader holds %d records, want 400", got)
	}

	// Upgraded: the same data dir, a release that reads format 2.
	c.kill(edge)
	mu.Lock()
	delete(old, "n3")
	mu.Unlock()
	c.start(edge, nil)
	testutil.WaitFor(t, 20*time.Second, "the upgraded edge to catch up", c.converged)
	if _, ok := edge.g.Halted(); ok {
		t.Fatal("still halted on the upgraded release")
	}
	if got := edge.g.State().Stats().Records; got != 400 {
		t.Fatalf("the upgraded copy holds %d records, want 400", got)
	}
}

// An entry whose checksum fails halts the shard at that entry on every replica (each reads the
// same bytes), never applied or skipped; reads go on from the copy.
func TestHaltDamagedEntryIsNeverApplied(t *testing.T) {
	g := openTestGroup(t, t.TempDir(), nil)
	defer g.Close()
	if err := g.SetCommandFormat(CommandFormatChecked); err != nil {
		t.Fatal(err)
	}
	apply(t, g, &Command{Op: OpCreate, Principal: frNCB, Records: []record.Record{rec("FR-1", "FR", "1")}})
	before := g.State().Stats().AppliedIndex
	b, _ := (&Command{Op: OpCreate, Principal: frNCB, Records: []record.Record{rec("FR-2", "FR", "2")}}).MarshalFormat(CommandFormatChecked)
	b[len(b)/2] ^= 0x04 // a bit flipped on a disk
	_ = g.raft.Apply(b, time.Second)
	testutil.WaitFor(t, 10*time.Second, "the group to halt", func() bool { _, ok := g.Halted(); return ok })
	h, _ := g.Halted()
	if !strings.Contains(h.Reason, "damaged") || h.Index != before+1 || h.NeedsCommandFormat != 0 {
		t.Fatalf("halt %+v, want a damaged entry at %d", h, before+1)
	}
	if _, ok, _ := g.State().Get("FR-1"); !ok {
		t.Fatal("the copy cannot be read while halted")
	}
	if got := g.State().Stats().AppliedIndex; got != before {
		t.Fatalf("applied index %d moved past the damaged entry at %d", got, before+1)
	}
	if _, err := g.Apply(context.Background(), &Command{Op: OpCreate, Principal: frNCB, Records: []record.Record{rec("FR-3", "FR", "3")}}); !errors.Is(err, ErrHalted) {
		t.Fatalf("write to a halted shard: %v", err)
	}
}
