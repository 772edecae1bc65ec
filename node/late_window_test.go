package node

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/clock"
	"github.com/fedarms/fedarms/node/wire"
)

// TestLateHandedWindowShareExpiryAndRestart: each origin fills only its own share of a central
// node's window (a flood is refused, never evicting another origin's searches); a search is
// re-checked only in the shards its origin did not hold; the window survives a reopen, and what is
// past it on the clock is dropped, from memory and from node.db.
func TestLateHandedWindowShareExpiryAndRestart(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "node.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clk := clock.NewFake(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	w := newHandedWindow(72*time.Hour, 10, nil)
	search := func(origin string, i int) lateHandover {
		return lateHandover{SearchID: fmt.Sprintf("s-%d", i), At: clk.Now(), Agency: "A-" + origin, Origin: origin,
			Shards: []string{"africa"}, Request: wire.SearchRequest{Serial: fmt.Sprintf("KEX%06d", i)}}
	}
	var honest []lateHandover
	for i := 0; i < 5; i++ {
		honest = append(honest, search("edge-cdg", i))
	}
	if refused, err := w.keep(db, honest); err != nil || len(refused) != 0 {
		t.Fatalf("honest searches: refused %v, %v", refused, err)
	}
	clk.Advance(time.Hour)
	var flood []lateHandover
	for i := 0; i < 100; i++ {
		flood = append(flood, search("edge-nbo", 1000+i))
	}
	refused, err := w.keep(db, flood)
	if err != nil || len(refused) != 90 {
		t.Fatalf("flood: %d refused (%v), want 90 beyond a share of 10", len(refused), err)
	}
	if got := w.counts(); got["edge-cdg"] != 5 || got["edge-nbo"] != 10 {
		t.Fatalf("window %v: want edge-cdg's 5 kept and edge-nbo at its share", got)
	}
	// The same search handed over again (an answer lost) is kept once.
	if refused, _ := w.keep(db, honest[:1]); len(refused) != 0 || w.counts()["edge-cdg"] != 5 {
		t.Fatalf("a repeated hand-over: refused %v, window %v", refused, w.counts())
	}

	// Candidates are the reverse lookup's (similar serials too); the live index decides after.
	has := func(got []handedSearch, origin, id string) bool {
		for _, s := range got {
			if s.Origin == origin && s.SearchID == id {
				return true
			}
		}
		return false
	}
	rec := fedRecords("KE", 3, 4)[0]
	if got := w.candidates(&rec, "africa", clk.Now()); !has(got, "edge-cdg", "s-3") {
		t.Fatalf("candidates for %s in africa: %+v", rec.Serial, got)
	}
	if got := w.candidates(&rec, "europe", clk.Now()); len(got) != 0 {
		t.Fatalf("a search re-checked in a shard its origin held: %+v", got)
	}
	w.markSeen(honest[3].key(), rec.ID)
	if got := w.candidates(&rec, "africa", clk.Now()); has(got, "edge-cdg", "s-3") {
		t.Fatalf("a record answered already is a candidate again: %+v", got)
	}

	// Reopened (a restart): the same searches, read from node.db.
	again := newHandedWindow(72*time.Hour, 10, nil)
	if err := again.load(db, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if got := again.counts(); got["edge-cdg"] != 5 || got["edge-nbo"] != 10 {
		t.Fatalf("window read back: %v", got)
	}
	// Past the window on the clock: edge-cdg's (an hour older) go first, then edge-nbo's.
	clk.Advance(71*time.Hour + time.Minute)
	for _, s := range again.candidates(&rec, "africa", clk.Now()) {
		if s.Origin == "edge-cdg" {
			t.Fatalf("a search past the window is still a candidate: %+v", s)
		}
	}
	gone := again.expire(clk.Now())
	if len(gone) != 5 || again.len() != 10 {
		t.Fatalf("expired %d, %d left; want edge-cdg's 5 gone and edge-nbo's 10 left", len(gone), again.len())
	}
	var keys [][]byte
	for _, k := range gone {
		keys = append(keys, []byte(k))
	}
	if err := again.drop(db, keys); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	last := newHandedWindow(72*time.Hour, 10, nil)
	if err := last.load(db, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if last.len() != 0 {
		t.Fatalf("%d searches read back past the window", last.len())
	}
	_ = db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketLateWindow).Stats().KeyN; n != 0 {
			t.Errorf("node.db keeps %d searches past the window", n)
		}
		return nil
	})
}

// A central node's window turns over without growing: searches handed over and expired, round
// after round, leave it holding what one round holds (its index is rebuilt, late_index.go).
func TestLateHandedWindowMemoryBounded(t *testing.T) {
	const round = 4000
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	w := newHandedWindow(time.Hour, round, nil)
	base := int64(liveHeap())
	var early, late int64
	for r := 0; r < 20; r++ {
		at = at.Add(2 * time.Hour)
		if gone := w.expire(at); r > 0 && len(gone) != round {
			t.Fatalf("round %d: %d expired, want %d", r, len(gone), round)
		}
		for i := 0; i < round; i++ {
			j := r*round + i
			if err := w.add(lateHandover{SearchID: fmt.Sprintf("s-%d", j), At: at, Agency: "A-EDGE", Origin: "edge-cdg",
				Shards: []string{"africa"}, Request: wire.SearchRequest{Serial: fmt.Sprintf("KEX%07d", j)}}); err != nil {
				t.Fatal(err)
			}
		}
		switch r {
		case 1:
			w.ix.wait()
			early = int64(liveHeap()) - base
		case 19:
			w.ix.wait()
			late = int64(liveHeap()) - base
		}
	}
	t.Logf("holding a round of %d, after 2 rounds: %d KB; after 20: %d KB", round, early>>10, late>>10)
	w.mu.Lock()
	held, live := w.ix.held(), len(w.searches)
	w.mu.Unlock()
	if held > 2*live+2*lateRebuildMin {
		t.Fatalf("the index holds up to %d entries for %d live searches", held, live)
	}
	if os.Getenv("FEDARMS_MEASURE_HEAP") != "" && late > early+early/4 { // see TestLateWindowMemoryBounded
		t.Fatalf("the window grew from %d KB to %d KB while it turned over", early>>10, late>>10)
	}
}
