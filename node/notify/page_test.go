package notify

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openPagedStore(t testing.TB, path string) (*Store, *bolt.DB) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, db
}

var t0 = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

// putHits stores hits h-from..h-to-1, hit i searched i seconds after t0; even ones are FR's.
func putHits(t testing.TB, db *bolt.DB, from, to int) {
	t.Helper()
	for start := from; start < to; start += 10000 {
		err := db.Update(func(tx *bolt.Tx) error {
			var hits []Hit
			for i := start; i < min(start+10000, to); i++ {
				c := "KE"
				if i%2 == 0 {
					c = "FR"
				}
				hits = append(hits, Hit{ID: fmt.Sprintf("h-%07d", i), RecordID: "R" + strconv.Itoa(i), RecordingCountry: c,
					SearchedAt: t0.Add(time.Duration(i) * time.Second), Decision: Pending, Receipts: map[string]string{}})
			}
			return PutTx(tx, hits)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func pageAll(t *testing.T, s *Store, keep func(*Hit) bool, limit int, between func()) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for pages := 0; ; pages++ {
		p, err := s.ListPage(keep, time.Time{}, cursor, limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Hits) > limit {
			t.Fatalf("page of %d, limit %d", len(p.Hits), limit)
		}
		for _, h := range p.Hits {
			ids = append(ids, h.ID)
		}
		if p.Cursor == "" {
			return ids
		}
		cursor = p.Cursor
		if between != nil {
			between()
		}
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
	}
}

func TestListPageNewestFirstStableWhileHitsArrive(t *testing.T) {
	s, db := openPagedStore(t, filepath.Join(t.TempDir(), "node.db"))
	defer db.Close()
	putHits(t, db, 0, 50)
	all := func(*Hit) bool { return true }
	next := 50
	ids := pageAll(t, s, all, 7, func() { putHits(t, db, next, next+3); next += 3 })
	if len(ids) != 50 {
		t.Fatalf("%d hits paged, want the 50 there when paging began: %v", len(ids), ids)
	}
	for i, id := range ids {
		if want := fmt.Sprintf("h-%07d", 49-i); id != want {
			t.Fatalf("position %d: %s, want %s (newest first, none twice, none skipped)", i, id, want)
		}
	}
	fr := pageAll(t, s, func(h *Hit) bool { return h.RecordingCountry == "FR" }, 4, nil)
	if len(fr) != (next+1)/2 || fr[0] != fmt.Sprintf("h-%07d", next-1-(next-1)%2) {
		t.Fatalf("FR pages: %d hits, first %v", len(fr), fr[:1])
	}
	if p, err := s.ListPage(all, t0.Add(45*time.Second), "", 100); err != nil || len(p.Hits) != next-45 || p.Cursor != "" {
		t.Fatalf("since: %d hits, want %d", len(p.Hits), next-45)
	}
	if _, err := s.ListPage(all, time.Time{}, "not a cursor!", 5); err != ErrBadCursor {
		t.Fatalf("bad cursor: %v", err)
	}
}

// TestListPageIndexRebuilt: a node.db written without the index (an older release), or with one
// that misses hits, gets it rebuilt at Open.
func TestListPageIndexRebuilt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.db")
	_, db := openPagedStore(t, path)
	putHits(t, db, 0, 20)
	db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketHitsByTime) })
	db.Close()
	s, db := openPagedStore(t, path)
	if ids := pageAll(t, s, func(*Hit) bool { return true }, 6, nil); len(ids) != 20 {
		t.Fatalf("%d hits after the rebuild", len(ids))
	}
	// An older release stored hits without indexing them.
	db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHits)
		return b.Put([]byte("h-old"), []byte(`{"id":"h-old","searched_at":"2027-01-01T00:00:00Z","receipts":{}}`))
	})
	db.Close()
	s, db = openPagedStore(t, path)
	defer db.Close()
	if ids := pageAll(t, s, func(*Hit) bool { return true }, 6, nil); len(ids) != 21 || ids[0] != "h-old" {
		t.Fatalf("after an unindexed hit: %d hits, first %v", len(ids), ids[:1])
	}
}

// BenchmarkListPage: the first and the last page of a GS inbox of N hits, and an NCB's first page
// (half the hits are its). FEDARMS_PAGING_HITS=1000000 for the size (building it takes
// about a minute).
func BenchmarkListPage(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("FEDARMS_PAGING_HITS")); err == nil {
		n = v
	}
	s, db := openPagedStore(b, filepath.Join(b.TempDir(), "node.db"))
	defer db.Close()
	putHits(b, db, 0, n)
	all := func(*Hit) bool { return true }
	// The last page's cursor: the key just after the oldest 100 hits.
	oldest := Hit{ID: fmt.Sprintf("h-%07d", 100), SearchedAt: t0.Add(100 * time.Second)}
	last := encodeCursor(timeKey(&oldest))
	b.Run(fmt.Sprintf("hits=%d/first", n), func(b *testing.B) {
		for b.Loop() {
			if p, err := s.ListPage(all, time.Time{}, "", 100); err != nil || len(p.Hits) != 100 {
				b.Fatal(err)
			}
		}
	})
	b.Run(fmt.Sprintf("hits=%d/last", n), func(b *testing.B) {
		for b.Loop() {
			if p, err := s.ListPage(all, time.Time{}, last, 100); err != nil || len(p.Hits) != 100 || p.Cursor != "" {
				b.Fatal(err, len(p.Hits))
			}
		}
	})
	b.Run(fmt.Sprintf("hits=%d/ncb-first", n), func(b *testing.B) {
		for b.Loop() {
			if p, err := s.ListPage(func(h *Hit) bool { return h.RecordingCountry == "FR" }, time.Time{}, "", 100); err != nil || len(p.Hits) != 100 {
				b.Fatal(err)
			}
		}
	})
}

// TestOutboxAndOverdueFromTheIndexes: the outbox and the overdue count follow receipts and
// decisions, and survive an index rebuild.
func TestOutboxAndOverdueFromTheIndexes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.db")
	s, db := openPagedStore(t, path)
	mk := func(id, origin string, deadline time.Time) Hit {
		return Hit{ID: id, Origin: origin, RecordingCountry: "FR", SearchedAt: t0, Deadline: deadline, Decision: Pending,
			Receipts: map[string]string{RoleGS: "", RoleNCB: "", RoleOrigin: t0.Format(time.RFC3339Nano)}}
	}
	err := db.Update(func(tx *bolt.Tx) error {
		return PutTx(tx, []Hit{mk("a1", "edge-a", t0.Add(time.Hour)), mk("a2", "edge-a", t0.Add(2*time.Hour)), mk("b1", "edge-b", t0.Add(time.Hour))})
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string, now time.Time, outA, overdue int) {
		t.Helper()
		o, d, err := s.Counts("edge-a", now)
		if err != nil || o != outA || d != overdue {
			t.Fatalf("%s: outbox %d overdue %d (%v), want %d and %d", when, o, d, err, outA, overdue)
		}
	}
	check("stored", t0.Add(90*time.Minute), 2, 2)
	for _, role := range []string{RoleGS, RoleNCB} {
		if err := s.SetReceipt("a1", role, t0); err != nil {
			t.Fatal(err)
		}
	}
	check("a1 delivered", t0.Add(90*time.Minute), 1, 2)
	if _, err := s.Decide(Decision{HitID: "b1", Decision: Confirmed, DecidedBy: "FR-NCB", DecidedAt: t0}, nil); err != nil {
		t.Fatal(err)
	}
	check("b1 decided", t0.Add(3*time.Hour), 1, 2)
	if out, _ := s.Outbox("edge-a"); len(out) != 1 || out[0].ID != "a2" {
		t.Fatalf("outbox of edge-a: %+v", out)
	}
	// Indexes dropped (an older release's node.db): rebuilt at open, same answers.
	db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketOutbox, bucketPending, bucketHitsByTime} {
			tx.DeleteBucket(b)
		}
		return nil
	})
	db.Close()
	s, db = openPagedStore(t, path)
	defer db.Close()
	check("after a rebuild", t0.Add(3*time.Hour), 1, 2)
}

// BenchmarkCounts: the outbox and overdue counts a node gossips every 2 s and exports on every
// scrape, from the indexes, beside the scan of every stored hit they replace. An inbox of N hits
// (FEDARMS_PAGING_HITS, default 100,000) of which 10 are this node's undelivered ones.
func BenchmarkCounts(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("FEDARMS_PAGING_HITS")); err == nil {
		n = v
	}
	s, db := openPagedStore(b, filepath.Join(b.TempDir(), "node.db"))
	defer db.Close()
	putHits(b, db, 0, n) // received hits: origin "", receipts empty, no deadline
	db.Update(func(tx *bolt.Tx) error {
		var mine []Hit
		for i := range 10 {
			mine = append(mine, Hit{ID: fmt.Sprintf("mine-%d", i), Origin: "edge-cdg", SearchedAt: t0, Decision: Pending,
				Deadline: t0.Add(time.Hour), Receipts: map[string]string{RoleGS: ""}})
		}
		return PutTx(tx, mine)
	})
	now := t0.Add(2 * time.Hour)
	b.Run(fmt.Sprintf("hits=%d/index", n), func(b *testing.B) {
		for b.Loop() {
			if o, _, err := s.Counts("edge-cdg", now); err != nil || o != 10 {
				b.Fatal(o, err)
			}
		}
	})
	b.Run(fmt.Sprintf("hits=%d/scan-baseline", n), func(b *testing.B) {
		for b.Loop() {
			outbox := 0
			s.List(func(h *Hit) bool {
				if h.Origin == "edge-cdg" && !h.Delivered() {
					outbox++
				}
				_ = h.Overdue(now)
				return false
			})
			if outbox != 10 {
				b.Fatal(outbox)
			}
		}
	})
}
