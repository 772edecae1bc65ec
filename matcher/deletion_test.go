package matcher

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// oneDeletions returns s and its variants deleting one character (the first of each run, as
// appendVariants deletes), as strings, with their position bytes.
func oneDeletions(s []byte) ([]string, []uint8) {
	vs := []string{string(s)}
	if len(s) > 1 {
		for i := range s {
			if i > 0 && s[i] == s[i-1] {
				continue
			}
			vs = append(vs, string(s[:i])+string(s[i+1:]))
		}
	}
	return vs, appendVariantPos(nil, s)
}

// TestPositionFilterAgreesWithDistance checks the claim the first edit pass relies on: a skeleton
// within one edit of the query, other than the query's own, always shares a variant with it whose
// pair of position bytes the query's filters take, so passing over the other entries loses
// nothing; and the query's own skeleton is turned away by every pair. Strings come from a
// three-character alphabet, so that runs (where deleting different positions gives the same
// variant) are everywhere, up to maxDeletionLen long (positions beyond 8 share residues); pairs
// are one and two random edits apart, equal, and random.
func TestPositionFilterAgreesWithDistance(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	const alpha = "A81"
	randStr := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = alpha[r.IntN(len(alpha))]
		}
		return b
	}
	edit := func(s []byte) []byte {
		b := slices.Clone(s)
		i := r.IntN(len(b))
		switch r.IntN(4) {
		case 0:
			b[i] = alpha[r.IntN(len(alpha))]
		case 1:
			b = slices.Insert(b, i, alpha[r.IntN(len(alpha))])
		case 2:
			if len(b) > 1 {
				b = slices.Delete(b, i, i+1)
			}
		case 3:
			if i+1 < len(b) {
				b[i], b[i+1] = b[i+1], b[i]
			}
		}
		return b
	}
	near, passedAll := 0, 0
	for range 80000 {
		q := randStr(2 + r.IntN(maxDeletionLen-1))
		var g []byte
		switch r.IntN(4) {
		case 3:
			g = slices.Clone(q)
		case 0:
			g = edit(q)
		case 1:
			g = edit(edit(q))
		default:
			g = randStr(max(1, len(q)+r.IntN(3)-1))
		}
		if len(g) < 2 || len(g) > maxDeletionLen {
			continue // a single character has no variant left to share
		}
		qv, _ := oneDeletions(q)
		filters := appendNearFilters(nil, q)
		var hs []uint32
		hs, level2 := appendVariants(hs, q, 1, true)
		if len(filters) != level2 || len(qv) != level2 {
			t.Fatalf("%s: %d filters, %d variants, appendVariants gives %d", q, len(filters), len(qv), level2)
		}
		gv, gpos := oneDeletions(g)
		if gk, gl2 := appendVariants(nil, g, 2, false); gl2 != len(gv) || len(gk) < gl2 {
			t.Fatalf("%s: %d position bytes for %d one-deletion variants", g, len(gv), gl2)
		}
		shared, taken := false, false
		for i, v := range qv {
			for j, w := range gv {
				if v != w {
					continue
				}
				shared = true
				if filters[i].takes(gpos[j]) {
					taken = true
				}
			}
		}
		d := osa(q, g)
		if d == 0 && taken {
			t.Fatalf("query %s: its own skeleton is taken (filters %+v)", q, filters)
		}
		if d == 1 && !taken {
			t.Fatalf("query %s, group %s at distance %d: every shared variant passed over (filters %+v)", q, g, d, filters)
		}
		if d == 1 {
			near++
		}
		if shared && !taken {
			passedAll++
		}
	}
	t.Logf("%d pairs one edit apart, %d passed over", near, passedAll)
	if near < 10000 || passedAll < 2000 {
		t.Fatalf("only %d pairs one edit apart and %d passed over: the test checks too little", near, passedAll)
	}
}

// TestFirstEditPassFindsEveryOneEditSerial checks, on an index, that the first edit pass (which
// filters by position bytes) still finds every serial within one edit of an exact or one-edit
// query, against a linear scan; on serials of dense factory runs and of long repeated characters;
// in a bulk-built and a live-built index (the buffer and merged runs carry position bytes too).
func TestFirstEditPassFindsEveryOneEditSerial(t *testing.T) {
	serials := testSerials(2500, 3)
	r := rand.New(rand.NewPCG(3, 3))
	for range 300 { // runs of one character: where deletions at different places coincide
		b := []byte(fmt.Sprintf("%07d", r.IntN(10000000)))
		for i := r.IntN(4); i < len(b) && r.IntN(3) > 0; i++ {
			b[i] = b[max(0, i-1)]
		}
		serials = append(serials, "X"+string(b))
	}
	entries := keyedEntries(serials)
	bulk, live := bulkAndLive(nil, entries)
	passed := 0
	for n := range 300 {
		q := serials[r.IntN(len(serials))]
		if n%2 == 1 {
			q = corrupt(r, q, 1)
		}
		qskel := appendSkeleton(nil, normalize(nil, q, true))
		var want []string
		for i, s := range serials {
			if osa([]byte(Skeleton(s)), qskel) <= 1 {
				want = append(want, entries[i].Key)
			}
		}
		for name, ix := range map[string]*Index{"bulk": bulk, "live": live} {
			sc := getScratch()
			qi := newQueryInfo(q, sc)
			if qi.known < minKnownFuzzy {
				putScratch(sc)
				continue
			}
			qa := ix.resolveQuery(&Query{Serial: q})
			qi.makeTag = qa.makeTag()
			ix.generate(&qi, &qa, sc)
			var got []string
			for _, c := range sc.cands {
				got = append(got, string(ix.recs.key(c.slot)))
			}
			passed += sc.ls.passed
			putScratch(sc)
			for _, w := range want {
				if !slices.Contains(got, w) {
					t.Fatalf("%s: query %q: %s (%s) one edit away not found", name, q, w, serials[keyIndex(w)])
				}
			}
		}
	}
	if passed == 0 {
		t.Fatal("no entry was passed over by position: the test checks nothing the filter does")
	}
}

// TestPositionFilterKeepsAnswers compares whole answers (keys, scores, verdicts, reasons, ties)
// with the first pass's position filter on and off, on serials of dense factory runs with makes,
// for exact, confusable, one- and two-edit queries with and without the make, in a bulk-built
// and a live-built index.
func TestPositionFilterKeepsAnswers(t *testing.T) {
	serials := testSerials(6000, 17)
	makes := []string{"Glock", "Beretta", "Colt", ""}
	entries := keyedEntries(serials)
	for i := range entries {
		entries[i].Make, entries[i].Type = makes[i%len(makes)], "pistol"
	}
	bulk, live := bulkAndLive(fakeRef{}, entries)
	r := rand.New(rand.NewPCG(17, 1))
	passed := 0
	for n := range 1500 {
		e := entries[r.IntN(len(entries))]
		q := Query{Serial: e.Serial}
		switch n % 5 {
		case 1:
			q.Serial = strings.NewReplacer("0", "O", "1", "I", "5", "S").Replace(q.Serial)
		case 2, 3:
			q.Serial = corrupt(r, q.Serial, 1)
		case 4:
			q.Serial = corrupt(r, q.Serial, 2)
		}
		if r.IntN(2) == 0 {
			q.Make = e.Make
		}
		passed += sameAnswers(t, map[string]*Index{"bulk": bulk, "live": live}, q, "the filter",
			func(ix *Index, off bool) { ix.noPosFilter = off }, func(st SearchStats) int { return st.Passed })
	}
	if passed == 0 {
		t.Fatal("no entry was passed over by position: the test compares nothing")
	}
}

// TestMakeTagBitsKeepAnswers compares whole answers with the deletion index's bucket scan turning
// away other makes' entries by the tag bits beside their keys, and without (the values' tags are
// checked either way), on an index large enough that its runs keep tag bits, with a dozen makes
// and records without one, for unrecorded serials (what a screening sends), one- and two-edit
// queries, with and without the make, in a bulk-built and a live-built index (whose merged runs
// keep tag bits too, and its buffer none).
func TestMakeTagBitsKeepAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two indexes of 100,000 serials")
	}
	serials := testSerials(100000, 23)
	makes := []string{"Glock", "Beretta", "Colt", "HK", "Izhmash", "S&W", "Ruger", "Taurus", "CZ", "Walther", "SIG", ""}
	entries := keyedEntries(serials)
	for i := range entries {
		entries[i].Make, entries[i].Type = makes[i%len(makes)], "pistol"
	}
	bulk, live := bulkAndLive(fakeRef{}, entries)
	for name, ix := range map[string]*Index{"bulk": bulk, "live": live} {
		tagged := false
		ix.del.tiers.each(func(r *hashRun) { tagged = tagged || r.loTagBits() > 0 })
		if !tagged {
			t.Fatalf("%s: no run keeps tag bits: the test compares nothing", name)
		}
	}
	unrecorded := testSerials(300, 29)
	r := rand.New(rand.NewPCG(23, 1))
	turned := 0
	for n := range 900 {
		e := entries[r.IntN(len(entries))]
		q := Query{Serial: e.Serial, Make: e.Make, Type: e.Type}
		switch n % 3 {
		case 0:
			q.Serial = unrecorded[n/3]
			q.Make = makes[r.IntN(len(makes))]
		case 1:
			q.Serial = corrupt(r, q.Serial, 1)
		case 2:
			q.Serial = corrupt(r, q.Serial, 2)
		}
		if r.IntN(4) == 0 {
			q.Make = ""
		}
		turned += sameAnswers(t, map[string]*Index{"bulk": bulk, "live": live}, q, "the tag bits",
			func(ix *Index, off bool) { ix.noTagFilter = off }, func(st SearchStats) int { return st.OtherMake })
	}
	if turned == 0 {
		t.Fatal("no entry was turned away by its make: the test compares nothing")
	}
}

// sameAnswers searches q in every index with a shortcut of the search on and off (set turns it
// off), fails when the answers differ, and returns the sum of what count reads of the work the
// shortcut did.
func sameAnswers(t *testing.T, ixs map[string]*Index, q Query, shortcut string, set func(ix *Index, off bool), count func(SearchStats) int) int {
	t.Helper()
	n := 0
	for name, ix := range ixs {
		set(ix, false)
		got := ix.Search(q)
		n += count(DebugSearch(ix, q))
		set(ix, true)
		want := ix.Search(q)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %+v: with %s\n%+v\nwithout\n%+v", name, q, shortcut, got, want)
		}
	}
	return n
}
