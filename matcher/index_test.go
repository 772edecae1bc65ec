package matcher

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// TestLayoutsGiveSameAnswers checks that how an index was built (one PutMany, Put by Put with
// runs merging as it goes, PutMany in the node's start-up batches, and the same compacted) never
// changes an answer: the runs differ, the candidates must not.
func TestLayoutsGiveSameAnswers(t *testing.T) {
	entries := putEntries(6000)
	build := map[string]func() *Index{
		"putmany": func() *Index { ix := New(fakeRef{}, Options{}); ix.PutMany(entries); return ix },
		"put": func() *Index {
			ix := New(fakeRef{}, Options{})
			for _, e := range entries {
				ix.Put(e)
			}
			return ix
		},
		"batches": func() *Index {
			ix := New(fakeRef{}, Options{})
			for i := 0; i < len(entries); i += 700 {
				ix.PutMany(entries[i:min(i+700, len(entries))])
			}
			return ix
		},
		"batches+compact": func() *Index {
			ix := New(fakeRef{}, Options{})
			for i := 0; i < len(entries); i += 700 {
				ix.PutMany(entries[i:min(i+700, len(entries))])
			}
			ix.Compact()
			return ix
		},
	}
	r := rand.New(rand.NewPCG(6, 6))
	var queries []Query
	for range 300 {
		e := entries[r.IntN(len(entries))]
		q := Query{Serial: corrupt(r, e.Serial, r.IntN(3)), Make: e.Make, Limit: 20}
		switch r.IntN(5) {
		case 0:
			q.Make = ""
		case 1:
			b := []byte(e.Serial)
			q.Serial = string(b[:len(b)/2]) + "*"
		case 2:
			q.Serial = "IMP-" + e.Serial
		}
		queries = append(queries, q)
	}
	want := build["putmany"]()
	for name, f := range build {
		ix := f()
		if ix.Len() != want.Len() {
			t.Fatalf("%s: Len %d, want %d", name, ix.Len(), want.Len())
		}
		for _, q := range queries {
			if got, exp := fmt.Sprint(ix.Search(q)), fmt.Sprint(want.Search(q)); got != exp {
				t.Fatalf("%s: query %+v:\n got %s\nwant %s", name, q, got, exp)
			}
		}
	}
}

// TestRewriteKeepsSerialsOrMovesThem checks Put of an existing key: with the same serials only
// the description changes (and the old one no longer matches), with a new serial the old serial
// no longer finds the record.
func TestRewriteKeepsSerialsOrMovesThem(t *testing.T) {
	ix := New(fakeRef{}, Options{})
	ix.PutMany(bulkOf(2000, "Glock"))
	ix.Put(Entry{Key: "X", Serial: "QQ7731904", OtherSerials: []string{"IMP-5512"}, Make: "Glock", Calibre: "9mm"})
	ix.Put(Entry{Key: "X", Serial: "QQ7731904", OtherSerials: []string{"IMP-5512"}, Make: "Glock", Calibre: ".45 ACP"})
	res := ix.Search(Query{Serial: "QQ7731904", Make: "Glock", Calibre: "45 auto"})
	if len(res) == 0 || res[0].Key != "X" || res[0].Why.Calibre != "equivalent" {
		t.Fatalf("rewritten calibre not seen: %+v", res)
	}
	if got := keysOf(ix.Search(Query{Serial: "IMP5512", Limit: 50})); !slices.Contains(got, "X") {
		t.Fatalf("other serial lost by a rewrite that kept it: %v", got)
	}
	ix.Put(Entry{Key: "X", Serial: "QQ7731999", Make: "Glock"})
	for _, r := range ix.Search(Query{Serial: "QQ7731904", Make: "Glock", Limit: 50}) {
		if r.Key == "X" && r.Why.Serial != "2 edits" {
			t.Fatalf("old serial still matches after the serial changed: %+v", r)
		}
	}
	if got := keysOf(ix.Search(Query{Serial: "IMP5512", Limit: 50})); slices.Contains(got, "X") {
		t.Fatalf("dropped other serial still matches: %v", got)
	}
	if res := ix.Search(Query{Serial: "QQ7731999", Make: "Glock"}); len(res) == 0 || res[0].Key != "X" {
		t.Fatalf("new serial not found: %+v", res)
	}
	if ix.Len() != 2001 {
		t.Fatalf("Len %d, want 2001", ix.Len())
	}
}

// TestResultsCarryTheEntrysGroup checks that a result carries the Group its record was last put
// with: by PutMany, by a Put that keeps the serials, one that changes them, and in a reused slot.
func TestResultsCarryTheEntrysGroup(t *testing.T) {
	ix := New(fakeRef{}, Options{})
	ix.PutMany([]Entry{{Key: "A", Serial: "GRP4410", Make: "Glock", Group: 3}, {Key: "B", Serial: "GRP4411", Make: "Glock", Group: 4}})
	group := func(serial, key string) uint8 {
		t.Helper()
		for _, r := range ix.Search(Query{Serial: serial, Make: "Glock"}) {
			if r.Key == key {
				return r.Group
			}
		}
		t.Fatalf("%s not found for %s", key, serial)
		return 0
	}
	if g, h := group("GRP4410", "A"), group("GRP4411", "B"); g != 3 || h != 4 {
		t.Fatalf("groups after PutMany: A %d, B %d; want 3, 4", g, h)
	}
	ix.Put(Entry{Key: "A", Serial: "GRP4410", Make: "Glock", Group: 5}) // same serials: attributes only
	if g := group("GRP4410", "A"); g != 5 {
		t.Fatalf("group after a Put that kept the serial: %d, want 5", g)
	}
	ix.Put(Entry{Key: "A", Serial: "GRP9920", Make: "Glock", Group: 6}) // new serial: a new slot
	if g := group("GRP9920", "A"); g != 6 {
		t.Fatalf("group after a Put that changed the serial: %d, want 6", g)
	}
	ix.Delete("B")
	ix.Put(Entry{Key: "C", Serial: "GRP7001", Make: "Glock"}) // reuses B's slot
	if g := group("GRP7001", "C"); g != 0 {
		t.Fatalf("a reused slot kept the old record's group: %d", g)
	}
}

// TestSecondEditOnlyWhenNeeded checks when a query without wildcards looks two edits away: not
// when its serial is recorded under its make, but when the make differs or is not given, or the
// serial is not recorded.
func TestSecondEditOnlyWhenNeeded(t *testing.T) {
	ix := New(fakeRef{}, Options{})
	ix.PutMany(bulkOf(3000, "Glock"))
	serial := bulkOf(3000, "Glock")[1500].Serial
	tests := []struct {
		name string
		q    Query
		want bool
	}{
		{"recorded under the query's make", Query{Serial: serial, Make: "Glock"}, false},
		{"recorded under an alias of it", Query{Serial: serial, Make: "GLOCK GESMBH"}, false},
		{"recorded under another make", Query{Serial: serial, Make: "Beretta"}, true},
		{"no make given", Query{Serial: serial}, true},
		{"not recorded", Query{Serial: serial + "7", Make: "Glock"}, true},
	}
	for _, tt := range tests {
		if got := DebugSearch(ix, tt.q).SecondEdit; got != tt.want {
			t.Errorf("%s: second edit %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestWriteWorkIsBounded checks that no single Put moves more than a bounded number of index
// entries, however large the index grows: merges advance in steps of at most one segment per
// level, never a rebuild.
func TestWriteWorkIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a large index")
	}
	ix := New(fakeRef{}, Options{})
	for _, e := range putEntries(120_000) {
		ix.Put(e)
	}
	levels := len(ix.del.tiers.levels)
	bound := levels * (pace*maxVariants + 2*maxSegEntries)
	if got := ix.del.tiers.maxStep; got > bound || got == 0 {
		t.Fatalf("one Put moved %d deletion entries (bound %d over %d levels)", got, bound, levels)
	}
	if runs, merging := ix.del.tiers.runs(); runs < 2 {
		t.Fatalf("only %d runs (%d merging): the test did not exercise merges", runs, merging)
	}
}

// TestSearchesBetweenWrites runs searches from several goroutines while writes go on, as the node
// does (writes under the write lock, searches under the read lock), over an index whose runs are
// being merged: with the race detector this checks that searches share nothing writable, merges
// and buffers included.
func TestSearchesBetweenWrites(t *testing.T) {
	entries := putEntries(40000)
	ix := New(fakeRef{}, Options{})
	ix.PutMany(entries[:5000])
	var mu sync.RWMutex
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				e := entries[r.IntN(5000)]
				q := Query{Serial: corrupt(r, e.Serial, r.IntN(3)), Make: e.Make}
				if g == 0 {
					q.Serial = e.Serial[:len(e.Serial)-2] + "*"
				}
				mu.RLock()
				ix.Search(q)
				mu.RUnlock()
			}
		}()
	}
	for i := 5000; i < len(entries); i += 256 {
		mu.Lock()
		for _, e := range entries[i:min(i+256, len(entries))] {
			ix.Put(e)
		}
		ix.Delete(entries[i/2].Key)
		mu.Unlock()
	}
	close(stop)
	wg.Wait()
	if runs, _ := ix.del.tiers.runs(); runs < 2 {
		t.Errorf("only %d runs: the searches never met merged runs", runs)
	}
}

// TestPrepareAndInstallCompaction checks the two-step compaction: prepare reads only (the runs
// are the same after it, and searches may run beside it), writes between prepare and install
// keep their effect (a merge they complete over prepared runs included), a merge in progress
// over prepared runs is abandoned, and the result answers exactly as an index built at once.
func TestPrepareAndInstallCompaction(t *testing.T) {
	tests := []struct {
		name          string
		before, after int // records written before prepare and between prepare and install
		mergedAway    bool
	}{
		{"merge in progress at prepare", 36000, 0, false},
		{"merges completed before install", 20000, 40000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries := putEntries(tt.before + tt.after)
			ix := New(fakeRef{}, Options{})
			for _, e := range entries[:tt.before] {
				ix.Put(e)
			}
			if !ix.NeedsCompaction() {
				t.Fatalf("an index built by %d Puts should need a compaction", tt.before)
			}
			runs, merging := ix.del.tiers.runs()
			if !tt.mergedAway && merging == 0 {
				t.Fatalf("no merge in progress at prepare: the test misses that case")
			}
			var mu sync.RWMutex
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { // a search beside the prepare, for the race detector
				defer wg.Done()
				mu.RLock()
				defer mu.RUnlock()
				ix.Search(Query{Serial: entries[7].Serial, Make: entries[7].Make})
			}()
			mu.RLock()
			c := ix.PrepareCompaction()
			mu.RUnlock()
			wg.Wait()
			if r, m := ix.del.tiers.runs(); r != runs || m != merging {
				t.Fatalf("prepare changed the runs: %d/%d -> %d/%d", runs, merging, r, m)
			}
			for _, e := range entries[tt.before:] {
				ix.Put(e)
			}
			ix.Delete(entries[3].Key)
			mergedAway := 0
			for _, r := range c.del.in {
				if !slices.ContainsFunc(ix.del.tiers.levels, func(lv []*hashRun) bool { return slices.Contains(lv, r) }) {
					mergedAway++
				}
			}
			if (mergedAway > 0) != tt.mergedAway {
				t.Fatalf("%d prepared runs merged away before install: the test misses its case", mergedAway)
			}
			mu.Lock()
			ix.InstallCompaction(c)
			mu.Unlock()
			if _, m := ix.del.tiers.runs(); !tt.mergedAway && m != 0 {
				t.Fatalf("the merge over prepared runs was not abandoned")
			}
			want := New(fakeRef{}, Options{})
			want.PutMany(entries)
			want.Delete(entries[3].Key)
			r := rand.New(rand.NewPCG(8, 8))
			for range 300 {
				e := entries[r.IntN(len(entries))]
				q := Query{Serial: corrupt(r, e.Serial, r.IntN(3)), Make: e.Make, Limit: 20}
				if r.IntN(4) == 0 {
					q.Serial = e.Serial[:len(e.Serial)-2] + "*"
				}
				if got, exp := fmt.Sprint(ix.Search(q)), fmt.Sprint(want.Search(q)); got != exp {
					t.Fatalf("query %+v:\n got %s\nwant %s", q, got, exp)
				}
			}
		})
	}
}
