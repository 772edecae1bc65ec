package audit

import (
	"context"
	"testing"

	"go.etcd.io/bbolt"
)

// TestEntriesFillTheirPages appends entries in groups, in every way entries reach bucket "audit"
// (a node.db commit, a fold of the journal, a caller's transaction), and requires the bucket's
// leaf pages to be mostly full: the keys only grow, so a page once split is never written again,
// and at bbolt's default fill factor each stayed about half empty (about 0.5 of the allocated
// bytes in use, twice the pages written per commit).
func TestEntriesFillTheirPages(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		l, db, _ := newLog(t, m.opts(Options{}))
		const groups, size = 40, 64
		for g := range groups {
			es := make([]Entry, size)
			for i := range es {
				es[i] = screenedEntry(g*size + i)
			}
			if _, err := l.AppendGroup(es, nil).Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			if g%10 == 9 { // an AppendTx folds the journal into its caller's transaction
				e := screenedEntry(-g)
				if err := db.Update(func(tx *bbolt.Tx) error { return l.AppendTx(tx, &e) }); err != nil {
					t.Fatal(err)
				}
			}
		}
		settled(t, l)
		var s bbolt.BucketStats
		if err := db.View(func(tx *bbolt.Tx) error {
			s = tx.Bucket(bucketEntries).Stats()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if want := groups*size + groups/10; s.KeyN != want {
			t.Fatalf("%d entries in the bucket, want %d", s.KeyN, want)
		}
		fill := float64(s.LeafInuse) / float64(s.LeafAlloc)
		t.Logf("%d leaf pages, %d of %d bytes in use (%.2f)", s.LeafPageN, s.LeafInuse, s.LeafAlloc, fill)
		if fill < 0.85 {
			t.Errorf("leaf pages %.2f full (%d of %d bytes in %d pages), want at least 0.85",
				fill, s.LeafInuse, s.LeafAlloc, s.LeafPageN)
		}
		mustVerifyOK(t, l, uint64(s.KeyN))
	})
}
