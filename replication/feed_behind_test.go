package replication

import "testing"

// A new holder of a shard whose source still holds every entry in its log takes a copy of the
// state, which is the smaller; once caught up, a few new records come as entries.
func TestFeedFarBehindTakesCopyEvenWithTheLogKept(t *testing.T) {
	old := copyMinBehind
	copyMinBehind = 64 << 10
	t.Cleanup(func() { copyMinBehind = old })
	c := newFeedCluster(t)
	c.write(0, 6000, 500)
	first, _ := c.members[3].g.logs.FirstIndex()
	if first > 1 {
		t.Fatalf("n3 compacted its log (first index %d): the test needs it whole", first)
	}
	h := c.holder("edge", nil, "n3")
	c.waitHolders("the new holder to catch up")
	if n := h.copies.Load(); n != 1 {
		t.Fatalf("a holder with nothing took %d copies, want 1 (the entries are larger than a copy)", n)
	}
	c.write(6000, 6020, 10)
	c.waitHolders("the holder to take the new records")
	if n := h.copies.Load(); n != 1 {
		t.Fatalf("a holder a few records behind took %d copies, want entries", n)
	}
}
