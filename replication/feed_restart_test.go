package replication

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/seal"
	"github.com/fedarms/fedarms/internal/testutil"
)

// A holder's kept batches are in its state file, sealed in an encrypted data dir: after the middle
// tier restarts, a bottom tier that was away catches up from its entries, not a copy of its state.
func TestFeedKeptBatchesSurviveRestart(t *testing.T) {
	for _, sealed := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "sealed"}[sealed], func(t *testing.T) {
			var key *seal.Key
			if sealed {
				var err error
				if key, err = seal.NewKey(seal.Generate()); err != nil {
					t.Fatal(err)
				}
			}
			c := newFeedCluster(t)
			c.write(0, 200, 20)
			midDir, lowDir := t.TempDir(), t.TempDir()
			openMid := func() *Holder {
				return c.holder("mid", func(hc *HolderConfig) { hc.Dir, hc.Key = midDir, key }, "n3")
			}
			openLow := func() *Holder {
				// Only mid: falling back to a central node would hide what mid serves.
				return c.holder("low", func(hc *HolderConfig) { hc.Dir, hc.Centrals = lowDir, nil }, "mid")
			}
			mid, low := openMid(), openLow()
			c.waitHolders("both tiers to take the first records")
			behind := low.State().Stats().AppliedIndex
			if err := low.Close(); err != nil {
				t.Fatal(err)
			}
			delete(c.holders, "low")
			c.write(200, 400, 20)
			c.deleteIDs(0, 30)
			c.waitHolders("the middle tier to go on while the bottom one is away")
			if err := mid.Close(); err != nil {
				t.Fatal(err)
			}
			mid = openMid()
			if base := mid.kept.baseIndex(); base > behind {
				t.Fatalf("after a restart the middle tier keeps batches after %d, the bottom one is at %d", base, behind)
			}
			low = openLow()
			c.waitHolders("the bottom tier to catch up from the restarted middle one")
			if n := low.copies.Load(); n != 0 {
				t.Fatalf("the bottom tier took %d copies of the state, want entries only", n)
			}
			if st := low.State().Stats(); st.Records != 370 {
				t.Fatalf("the bottom tier holds %d records, want 370", st.Records)
			}
			if len(low.Dropped())+len(mid.Dropped()) != 0 {
				t.Fatalf("honest sources dropped: %v %v", low.Dropped(), mid.Dropped())
			}
			c.write(400, 450, 25)
			c.waitHolders("both tiers to go on after the restart")
		})
	}
}

// The kept batches on disk are bounded as in memory: the oldest go as new ones are applied.
func TestFeedKeptBatchesOnDiskBounded(t *testing.T) {
	c := newFeedCluster(t)
	h := c.holder("mid", func(hc *HolderConfig) { hc.KeepBytes = 4 << 10 }, "n3")
	c.write(0, 400, 20)
	c.waitHolders("the holder to take the records")
	kept, err := h.State().loadKept()
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) == 0 || kept[len(kept)-1].cp.Index != h.State().Stats().AppliedIndex {
		t.Fatalf("%d batches kept on disk, ending short of the applied index", len(kept))
	}
	size := 0
	for _, b := range kept {
		for _, e := range b.entries {
			size += len(e.Data) + 32
		}
	}
	// At most the bound, one batch more (dropped in the next write) and one batch past it.
	if last := kept[len(kept)-1]; kept[0].after == 0 || size > 4<<10+3*batchBytes(last) {
		t.Fatalf("%d batches, %d bytes kept on disk from %d, over the 4 KiB bound", len(kept), size, kept[0].after)
	}
}

func batchBytes(b keptBatch) int {
	n := 0
	for _, e := range b.entries {
		n += len(e.Data) + 32
	}
	return n
}

// olderRelease is the decoder of a release that reads command format 1 only.
func olderRelease(c *Command, b []byte) error {
	if len(b) > 0 && b[0] > CommandFormatLegacy {
		return &VersionError{Found: b[0], Reads: CommandFormatLegacy}
	}
	return c.UnmarshalBinary(b)
}

// A fed holder of an older release that meets an entry of a newer command format halts, with the
// entry's index and the format it needs, rather than waiting silently; no source is blamed; a
// release that reads it resumes from the copy's applied index.
func TestFeedHolderHaltsOnNewerFormat(t *testing.T) {
	c := newFeedCluster(t)
	c.write(0, 100, 50)
	dir := t.TempDir()
	old := c.holder("edge", func(hc *HolderConfig) { hc.Dir, hc.decode = dir, olderRelease }, "n3")
	c.waitHolders("the holder to take the first records")
	if _, halted := old.Halted(); halted {
		t.Fatal("halted before any entry of a newer format")
	}
	before := old.State().Stats().AppliedIndex
	for _, m := range c.members {
		if err := m.g.SetCommandFormat(CommandFormatChecked); err != nil {
			t.Fatal(err)
		}
	}
	c.write(100, 150, 50)
	testutil.WaitFor(t, 20*time.Second, "the holder to halt", func() bool { _, ok := old.Halted(); return ok })
	h, _ := old.Halted()
	if h.Index != before+1 || h.NeedsCommandFormat != CommandFormatChecked || !strings.Contains(h.Reason, "command format 2") {
		t.Fatalf("halt %+v: want the entry %d and format %d named", h, before+1, CommandFormatChecked)
	}
	if got := old.State().Stats().AppliedIndex; got != before {
		t.Fatalf("applied index moved to %d past the entry it cannot read at %d", got, before+1)
	}
	if d := old.Dropped(); len(d) != 0 {
		t.Fatalf("sources dropped for an entry of a newer format: %v", d)
	}
	select {
	case r := <-c.refusal:
		t.Fatalf("refusal reported for an entry of a newer format: %v", r)
	default:
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	delete(c.holders, "edge")

	upgraded := c.holder("edge", func(hc *HolderConfig) { hc.Dir = dir }, "n3")
	c.waitHolders("the upgraded holder to apply the newer entries")
	if _, halted := upgraded.Halted(); halted {
		t.Fatal("still halted with a release that reads the entry")
	}
}

// Converting a plain data dir to an encrypted one seals a holder's kept batches with the rest,
// and the holder reads them back with the key.
func TestFeedKeptBatchesSealedOnConversion(t *testing.T) {
	c := newFeedCluster(t)
	dir := t.TempDir()
	h := c.holder("mid", func(hc *HolderConfig) { hc.Dir = dir }, "n3")
	c.write(0, 100, 20)
	c.waitHolders("the holder to take the records")
	want := h.State().Stats().AppliedIndex
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	delete(c.holders, "mid")
	key, err := seal.NewKey(seal.Generate())
	if err != nil {
		t.Fatal(err)
	}
	if err := SealGroupDir(dir, key); err != nil {
		t.Fatal(err)
	}
	if plain, err := OpenSealedState(filepath.Join(dir, "state.db"), nil); err == nil {
		_, err = plain.loadKept()
		plain.Close()
		if err == nil {
			t.Fatal("kept batches read as plain after sealing")
		}
	}
	s, err := OpenSealedState(filepath.Join(dir, "state.db"), key)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	kept, err := s.loadKept()
	if err != nil || len(kept) == 0 || kept[len(kept)-1].cp.Index != want {
		t.Fatalf("kept batches after sealing: %d, %v; want them to end at %d", len(kept), err, want)
	}
}
