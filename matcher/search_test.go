package matcher

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// testIndex holds a handful of records with the traps the matcher must handle: a serial reused
// across makers, confusable letters, an embedded letter, other serials and a short serial.
func testIndex(t testing.TB) *Index {
	t.Helper()
	ix := New(fakeRef{}, Options{})
	for _, e := range []Entry{
		{Key: "FR-1", Serial: "AB123456", Make: "Smith & Wesson", Model: "M&P9", Calibre: "9mm", Type: "pistol"},
		{Key: "DE-1", Serial: "AB123456", Make: "Glock", Model: "17", Calibre: "9x19", Type: "pistol"},
		{Key: "IT-1", Serial: "BZ0O4471", Make: "Beretta", Model: "92FS", Calibre: "9mm Luger", Type: "pistol"},
		{Key: "US-1", Serial: "369J257", Make: "Colt", Calibre: ".45 ACP", Type: "pistol"},
		{Key: "RU-1", Serial: "ХА 7712", OtherSerials: []string{"IMP-55-0931"}, Make: "Izhmash", Calibre: "7.62x39", Type: "rifle"},
		{Key: "NL-1", Serial: "4711", Make: "HK", Calibre: "5.56x45", Type: "rifle"},
	} {
		ix.Put(e)
	}
	return ix
}

func TestSearchExactTier(t *testing.T) {
	ix := testIndex(t)
	tests := []struct {
		name    string
		q       Query
		wantKey string // best result; "" for no result
		hit     bool
		serial  string // why["serial"] of the best result
		other   map[string]string
	}{
		{"exact with make", Query{Serial: "AB123456", Make: "S&W"}, "FR-1", true, "exact",
			map[string]string{"make": "alias"}},
		{"format noise", Query{Serial: "ab-123 456", Make: "Glock"}, "DE-1", true, "exact",
			map[string]string{"make": "same"}},
		{"confusables", Query{Serial: "8Z0O4A71", Make: "Beretta"}, "", false, "", nil},
		{"confusables fold", Query{Serial: "BZOO4471", Make: "Beretta"}, "IT-1", true, "1 confusable (O/0)", nil},
		{"confusables digits", Query{Serial: "82004471", Calibre: "9x19"}, "IT-1", true, "3 confusable (B/8)",
			map[string]string{"calibre": "equivalent"}},
		{"cyrillic look-alikes", Query{Serial: "XA-7712", Make: "Kalashnikov"}, "RU-1", true, "exact",
			map[string]string{"make": "alias"}},
		{"other serial", Query{Serial: "IMP 55 931", Make: "Kalashnikov"}, "", false, "", nil},
		{"other serial exact", Query{Serial: "imp550931", Make: "izhmash"}, "RU-1", true, "exact on other serial", nil},
		{"embedded letter in record", Query{Serial: "369257", Make: "Colt"}, "US-1", true, "embedded letters ignored", nil},
		{"embedded letter in query", Query{Serial: "12AB3456"}, "", false, "", nil},
		{"short serial without agreement", Query{Serial: "4711"}, "NL-1", false, "exact", nil},
		{"short serial with make", Query{Serial: "4711", Make: "Heckler & Koch", Calibre: ".223 Rem"}, "NL-1", true, "exact",
			map[string]string{"calibre": "close"}},
		{"no match", Query{Serial: "ZZ999999"}, "", false, "", nil},
		{"only wildcards", Query{Serial: "**??"}, "", false, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := ix.Search(tt.q)
			if tt.wantKey == "" {
				if len(res) > 0 && res[0].Hit {
					t.Fatalf("unexpected hit %+v", res[0])
				}
				return
			}
			if len(res) == 0 {
				t.Fatalf("no results, want %s", tt.wantKey)
			}
			r := res[0]
			if r.Key != tt.wantKey || r.Hit != tt.hit || r.Why.Serial != tt.serial {
				t.Fatalf("best = %s hit=%v score=%.3f why=%v; want %s hit=%v serial=%q",
					r.Key, r.Hit, r.Score, r.Why, tt.wantKey, tt.hit, tt.serial)
			}
			for k, v := range tt.other {
				if r.Why.Map()[k] != v {
					t.Errorf("why[%s] = %q, want %q (%v)", k, r.Why.Map()[k], v, r.Why)
				}
			}
			if r.Score < 0 || r.Score > 1 || (r.Hit && !r.Review) {
				t.Errorf("inconsistent result %+v", r)
			}
		})
	}
}

func TestSerialReusedAcrossMakes(t *testing.T) {
	ix := testIndex(t)
	// With the make, the right record is a HIT and the other maker's record only deserves review.
	res := ix.Search(Query{Serial: "AB123456", Make: "Glock"})
	if len(res) != 2 || res[0].Key != "DE-1" || !res[0].Hit || res[1].Hit {
		t.Fatalf("got %+v", res)
	}
	if res[1].Why.Make != "differs" || res[1].Why.Hit != "" && res[1].Score >= 0.85 {
		t.Errorf("other maker: %+v", res[1])
	}
	// Without any description a serial two records carry is ambiguous: review both, no HIT.
	res = ix.Search(Query{Serial: "AB123456"})
	if len(res) != 2 || res[0].Hit || res[1].Hit || !res[0].Review {
		t.Fatalf("got %+v", res)
	}
	if res[0].Key != "DE-1" || res[1].Key != "FR-1" {
		t.Errorf("ties must break by key: %s, %s", res[0].Key, res[1].Key)
	}
	// A real serial under another make is a near miss: review, not a HIT.
	res = ix.Search(Query{Serial: "BZ0O4471", Make: "Glock", Calibre: "9mm"})
	if len(res) != 1 || res[0].Hit || !res[0].Review {
		t.Fatalf("got %+v", res)
	}
}

func TestPutReplaceDelete(t *testing.T) {
	ix := testIndex(t)
	if ix.Len() != 6 {
		t.Fatalf("Len = %d", ix.Len())
	}
	ix.Put(Entry{Key: "IT-1", Serial: "NEW-777777", Make: "Beretta"})
	if ix.Len() != 6 {
		t.Fatalf("replace changed Len to %d", ix.Len())
	}
	if res := ix.Search(Query{Serial: "BZ0O4471"}); len(res) != 0 {
		t.Fatalf("old serial still found: %+v", res)
	}
	if res := ix.Search(Query{Serial: "new777777"}); len(res) != 1 || res[0].Key != "IT-1" {
		t.Fatalf("new serial: %+v", res)
	}
	ix.Delete("IT-1")
	ix.Delete("absent")
	if ix.Len() != 5 {
		t.Fatalf("Len after delete = %d", ix.Len())
	}
	if res := ix.Search(Query{Serial: "new777777"}); len(res) != 0 {
		t.Fatalf("deleted record found: %+v", res)
	}
	// A reused slot must not inherit anything from the deleted record.
	ix.Put(Entry{Key: "XX-1", Serial: "QQ1"})
	if res := ix.Search(Query{Serial: "QQ1"}); len(res) != 1 || res[0].Key != "XX-1" {
		t.Fatalf("reused slot: %+v", res)
	}
	if res := ix.Search(Query{Serial: "new777777"}); len(res) != 0 {
		t.Fatalf("deleted record found after reuse: %+v", res)
	}
}

func TestLimit(t *testing.T) {
	ix := New(nil, Options{})
	for i := range 30 {
		ix.Put(Entry{Key: fmt.Sprintf("K%02d", i), Serial: "SAME12345"})
	}
	if got := len(ix.Search(Query{Serial: "SAME12345"})); got != DefaultLimit {
		t.Errorf("default limit: %d results", got)
	}
	res := ix.Search(Query{Serial: "SAME12345", Limit: 25})
	if len(res) != 25 || res[0].Key != "K00" || res[24].Key != "K24" {
		t.Errorf("limit 25: %d results, first %s", len(res), res[0].Key)
	}
}

func TestConcurrentSearch(t *testing.T) {
	ix := testIndex(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				q := Query{Serial: []string{"AB123456", "BZOO4471", "369257", "4711"}[(g+i)%4], Make: "Glock"}
				if res := ix.Search(q); len(res) == 0 {
					t.Errorf("no result for %q", q.Serial)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestOptionsDefaults(t *testing.T) {
	o := New(nil, Options{HitThreshold: 2, ReviewThreshold: -1}).Options()
	if o.HitThreshold != DefaultHitThreshold || o.ReviewThreshold != DefaultReviewThreshold {
		t.Errorf("defaults: %+v", o)
	}
	o = New(nil, Options{HitThreshold: 0.5}).Options()
	if o.ReviewThreshold != 0.5 {
		t.Errorf("review above hit: %+v", o)
	}
}

// Under a '?' two recorded serials of one run fit equally; that one of them is also carried by a
// record of another maker (term frequency) must not make the other a HIT.
func TestUnreadableTieIsNoHitWhateverTheTermFrequency(t *testing.T) {
	ix := New(fakeRef{}, Options{})
	for _, e := range []Entry{
		{Key: "A", Serial: "KAN1939", Make: "Glock", Calibre: "9mm", Type: "pistol"},
		{Key: "B", Serial: "KAN1949", Make: "Glock", Calibre: "9mm", Type: "pistol"},
		{Key: "C", Serial: "KAN1949", Make: "Beretta", Calibre: "9mm", Type: "pistol"},
	} {
		ix.Put(e)
	}
	res := ix.Search(Query{Serial: "KAN19?9", Make: "Glock", Calibre: "9mm", Type: "pistol"})
	if len(res) < 2 {
		t.Fatalf("got %+v", res)
	}
	for _, r := range res {
		if r.Hit {
			t.Fatalf("a HIT on a tie: %+v", res)
		}
	}
	// With the tie gone, the one serial left is a HIT.
	ix.Delete("B")
	res = ix.Search(Query{Serial: "KAN19?9", Make: "Glock", Calibre: "9mm", Type: "pistol"})
	if len(res) == 0 || res[0].Key != "A" || !res[0].Hit {
		t.Fatalf("after the delete: %+v", res)
	}
}

// Letters between digits that one side lacks are ignored (the NCIC rule: inspection or date
// marks); letters that both sides have and that differ are a misread, so the record is a lead,
// not a HIT.
func TestEmbeddedLettersThatDifferAreNoHit(t *testing.T) {
	ix := New(fakeRef{}, Options{})
	ix.Put(Entry{Key: "RO-1", Serial: "1-EP2210-95", Make: "Cugir", Calibre: "7.62x39", Type: "rifle"})
	q := Query{Make: "Cugir", Calibre: "7.62x39", Type: "rifle"}
	for _, tt := range []struct {
		serial string
		hit    bool
	}{
		{"1-EP2210-95", true},  // as recorded
		{"1-2210-95", true},    // the query lacks the letters
		{"1-EA2210-95", false}, // both have letters, and they differ
	} {
		q.Serial = tt.serial
		res := ix.Search(q)
		if len(res) == 0 || res[0].Key != "RO-1" {
			t.Fatalf("%s: %+v", tt.serial, res)
		}
		if res[0].Hit != tt.hit {
			t.Errorf("%s: hit=%v (%+v), want %v", tt.serial, res[0].Hit, res[0].Why, tt.hit)
		}
	}
}

// A serial of one digit run, recorded with separators, is found by its first or last part: the
// normal form has no token to drop ("011-09046" is 1109046).
func TestSerialFoundByAPartBetweenSeparators(t *testing.T) {
	for _, bulk := range []bool{false, true} {
		ix := New(fakeRef{}, Options{})
		entries := []Entry{
			{Key: "US-1", Serial: "011-09046", Make: "Ruger", Calibre: "9mm", Type: "pistol"},
			{Key: "US-2", Serial: "660 51885", Make: "Ruger", Calibre: "9mm", Type: "pistol"},
			{Key: "US-3", Serial: "51887", Make: "Ruger", Calibre: "9mm", Type: "pistol"},
		}
		if bulk {
			ix.PutMany(entries)
		} else {
			for _, e := range entries {
				ix.Put(e)
			}
		}
		for _, tt := range []struct{ serial, want string }{
			{"09046", "US-1"}, {"011", ""}, {"51885", "US-2"}, {"660", ""},
		} {
			res := ix.Search(Query{Serial: tt.serial, Make: "Ruger"})
			found := ""
			for _, r := range res {
				if r.Key == tt.want {
					found = r.Key
				}
			}
			if found != tt.want {
				t.Errorf("bulk=%v %s: want %q among %+v", bulk, tt.serial, tt.want, res)
			}
		}
	}
	if f, l := separatorBounds("011-09046"); f != 4 || l != 3 {
		t.Errorf("separatorBounds: %d %d", f, l)
	}
	if f, l := separatorBounds(" 12 34 - 56 "); f != 4 || l != 6 {
		t.Errorf("separatorBounds: %d %d", f, l)
	}
}

// A misread serial is a REVIEW when it looks misread, not like another firearm of the make: a
// record whose description differs, or two edits of which one is a substituted character, are no
// REVIEW; a transposition, or a deletion with a transposition, are.
func TestReviewWhenTheSerialLooksMisread(t *testing.T) {
	ix := New(fakeRef{}, Options{})
	ix.Put(Entry{Key: "AT-1", Serial: "KX40712", Make: "Glock", Model: "17", Calibre: "9mm", Type: "pistol"})
	ix.Put(Entry{Key: "AT-2", Serial: "PW88315", Make: "Glock", Model: "19", Calibre: "9mm", Type: "pistol"})
	for _, tt := range []struct {
		serial, model string
		review        bool
		why           string
	}{
		{"KX47012", "", true, ""},                          // a transposition
		{"X40721", "", true, ""},                           // a dropped character and a transposition
		{"KX40192", "", true, ""},                          // a character dropped, another inserted
		{"KX43752", "", false, "replaced besides another"}, // two substitutions: a neighbour of the run
		{"KX4375Z", "", false, "replaced besides another"}, // ... whatever the confusions
		{"PW83815", "17", false, "description differs"},    // a transposition, but the model differs
		{"PW83815", "19", true, ""},
	} {
		res := ix.Search(Query{Serial: tt.serial, Make: "Glock", Model: tt.model})
		if len(res) == 0 {
			t.Fatalf("%s: no result", tt.serial)
		}
		r := res[0]
		if r.Review != tt.review || r.Hit {
			t.Errorf("%s model %q: review=%v hit=%v (%+v), want review=%v", tt.serial, tt.model, r.Review, r.Hit, r.Why, tt.review)
		}
		if tt.why != "" && !strings.Contains(r.Why.Hit, tt.why) {
			t.Errorf("%s: why.hit %q, want it to say %q", tt.serial, r.Why.Hit, tt.why)
		}
	}
}
