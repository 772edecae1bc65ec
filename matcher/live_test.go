package matcher

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMakeFilter checks the edit tier's make tags: with a make, misread serials are found among
// that make and among records without a make, never among other makes; the exact tiers still
// show other makes. A serial that joins an existing group under a new make (a live write after
// the bulk build) must be findable under that make too.
func TestMakeFilter(t *testing.T) {
	ix := New(fakeRef{}, Options{})
	ix.PutMany(bulkOf(2000, "Glock"))
	ix.Put(Entry{Key: "SW-1", Serial: "QX5521907", Make: "S&W"})
	ix.Put(Entry{Key: "NOMAKE-1", Serial: "QX5521908"})
	ix.Put(Entry{Key: "GL-EXACT", Serial: "QX5521907", Make: "Glock"}) // joins SW-1's group

	keys := keysOf(ix.Search(Query{Serial: "QX552197", Make: "Glock", Limit: 50})) // one deletion
	if !slices.Contains(keys, "GL-EXACT") || !slices.Contains(keys, "NOMAKE-1") {
		t.Errorf("same make or no make missing: %v", keys)
	}
	if slices.Contains(keys, "SW-1") {
		t.Errorf("another make's misread serial was offered: %v", keys)
	}
	keys = keysOf(ix.Search(Query{Serial: "QX552197", Limit: 50}))
	if !slices.Contains(keys, "SW-1") || !slices.Contains(keys, "GL-EXACT") {
		t.Errorf("without a make every make must be searched: %v", keys)
	}
	keys = keysOf(ix.Search(Query{Serial: "QX5521907", Make: "Glock", Limit: 50}))
	if !slices.Contains(keys, "SW-1") {
		t.Errorf("the exact tier must still show another make's serial for review: %v", keys)
	}
	// A live record of another make joining a group of the bulk build.
	bulk := bulkOf(2000, "Glock")[1234]
	ix.Put(Entry{Key: "SW-2", Serial: bulk.Serial, Make: "Smith and Wesson"})
	misread := bulk.Serial[:len(bulk.Serial)-1]
	keys = keysOf(ix.Search(Query{Serial: misread, Make: "S&W", Limit: 50}))
	if !slices.Contains(keys, "SW-2") {
		t.Errorf("%q under S&W: live record in a bulk group not found: %v", misread, keys)
	}
}

// TestCompactKeepsAnswers checks that Compact (all runs merged into one after live writes,
// deletions and rewrites) changes no answer.
func TestCompactKeepsAnswers(t *testing.T) {
	ix := New(fakeRef{}, Options{})
	entries := bulkOf(3000, "Beretta")
	for _, e := range entries {
		ix.Put(e)
	}
	for i := 0; i < len(entries); i += 7 {
		ix.Delete(entries[i].Key)
	}
	for i := 0; i < len(entries); i += 11 {
		e := entries[i]
		e.Serial += "X"
		ix.Put(e)
	}
	r := rand.New(rand.NewPCG(3, 3))
	var queries []Query
	for range 300 {
		e := entries[r.IntN(len(entries))]
		queries = append(queries, Query{Serial: corrupt(r, e.Serial, r.IntN(3)), Make: "Beretta", Limit: 20})
	}
	queries = append(queries, Query{Serial: entries[5].Serial[:4] + "*", Make: "Beretta", Limit: 20})
	before := make([][]Result, len(queries))
	for i, q := range queries {
		before[i] = ix.Search(q)
	}
	n := ix.Len()
	ix.Compact()
	if ix.Len() != n {
		t.Fatalf("Len %d after Compact, was %d", ix.Len(), n)
	}
	for i, q := range queries {
		after := ix.Search(q)
		if fmt.Sprint(after) != fmt.Sprint(before[i]) {
			t.Fatalf("query %+v changed:\nbefore %v\nafter  %v", q, before[i], after)
		}
	}
}

func bulkOf(n int, mk string) []Entry {
	serials := testSerials(n, 21)
	out := make([]Entry, n)
	for i, s := range serials {
		out[i] = Entry{Key: fmt.Sprintf("R%05d", i), Serial: s, Make: mk, Type: "pistol"}
	}
	return out
}
