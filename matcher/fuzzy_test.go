package matcher

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSearchFuzzyTiers(t *testing.T) {
	ix := New(fakeRef{}, Options{})
	for _, e := range []Entry{
		{Key: "A", Serial: "AB123456", Make: "Glock", Calibre: "9mm", Type: "pistol"},
		{Key: "B", Serial: "AB123457", Make: "Glock", Calibre: "9mm", Type: "pistol"},
		{Key: "C", Serial: "XK-7781234", Make: "Colt", Calibre: ".45 ACP", Type: "pistol"},
		{Key: "D", Serial: "55210", OtherSerials: []string{"IMP-88213"}, Make: "Beretta", Type: "pistol"},
		{Key: "E", Serial: "PV 1234567", Make: "Izhmash", Type: "rifle"},
		{Key: "F", Serial: "BTE-014", Make: "Glock", Type: "pistol"},
		{Key: "G", Serial: "BER382652G", Make: "Beretta", Calibre: "9mm", Type: "pistol"},
	} {
		ix.Put(e)
	}
	tests := []struct {
		name    string
		q       Query
		wantKey string
		hit     bool
		serial  string
	}{
		{"substitution is a lead", Query{Serial: "XK7781239", Make: "Colt"}, "C", false, "1 edit"},
		{"transposition", Query{Serial: "XK7718234", Make: "Colt"}, "C", false, "1 edit"},
		{"deletion", Query{Serial: "XK778124", Make: "Colt"}, "C", false, "1 edit"},
		{"two edits", Query{Serial: "XK77182344", Make: "Colt"}, "C", false, "2 edits"},
		{"confusable and edit", Query{Serial: "XK778I2345", Make: "Colt"}, "C", false, "1 confusable (I/1), 1 edit"},
		{"one unreadable", Query{Serial: "XK77?1234", Make: "Colt"}, "C", true, "1 unreadable character"},
		{"two unreadable", Query{Serial: "XK77??234", Make: "Colt"}, "C", true, "2 unreadable characters"},
		{"run at the end", Query{Serial: "XK7781*", Make: "Colt"}, "C", true, "unreadable run"},
		{"run at the start", Query{Serial: "*7781234", Make: "Colt"}, "C", true, "unreadable run"},
		{"run in the middle", Query{Serial: "XK7*234", Make: "Colt"}, "C", true, "unreadable run"},
		{"extra suffix token", Query{Serial: "PV1234567-RUS", Make: "Izhmash"}, "E", true, "1 prefix/suffix token ignored"},
		{"extra prefix token", Query{Serial: "IMP PV 1234567", Make: "Izhmash"}, "E", true, "1 prefix/suffix token ignored"},
		{"missing prefix token", Query{Serial: "1234567", Make: "Izhmash"}, "E", true, "1 prefix/suffix token ignored"},
		{"missing prefix on other serial", Query{Serial: "88213", Make: "Beretta"}, "D", true,
			"1 prefix/suffix token ignored on other serial"},
		{"run neighbours tie on a dropped digit", Query{Serial: "AB12345", Make: "Glock"}, "A", false, "1 edit"},
		{"too vague", Query{Serial: "1*"}, "", false, ""},
		{"a letter prefix is not embedded", Query{Serial: "BRU014", Make: "Glock"}, "F", false, "2 edits"},
		{"serial inside another", Query{Serial: "382652", Make: "Beretta"}, "G", false,
			"2 prefix/suffix tokens ignored"},
		{"partial serial, calibre differs", Query{Serial: "XK77?1234", Make: "Colt", Calibre: "9mm"}, "C", false,
			"1 unreadable character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := ix.Search(tt.q)
			if tt.wantKey == "" {
				if len(res) != 0 {
					t.Fatalf("want nothing, got %+v", res)
				}
				return
			}
			if len(res) == 0 {
				t.Fatalf("no results")
			}
			r := res[0]
			if r.Key != tt.wantKey || r.Hit != tt.hit || r.Why.Serial != tt.serial {
				t.Fatalf("best = %s hit=%v score=%.3f why=%v; want %s hit=%v serial=%q",
					r.Key, r.Hit, r.Score, r.Why, tt.wantKey, tt.hit, tt.serial)
			}
		})
	}
}

// TestEditTierIsComplete checks candidate generation against a linear scan: every indexed serial
// within the edit budget of a corrupted query must be found, for indexes built both by PutMany
// (bulk) and by Put (live), and after deletions.
func TestEditTierIsComplete(t *testing.T) {
	serials := testSerials(3000, 11)
	entries := keyedEntries(serials)
	bulk, live := bulkAndLive(nil, entries)
	for i := 0; i < len(entries); i += 10 {
		bulk.Delete(entries[i].Key)
		live.Delete(entries[i].Key)
	}
	r := rand.New(rand.NewPCG(5, 5))
	total := 0
	defer func() {
		if total < 400 {
			t.Errorf("only %d expected matches over all queries: the test checks too little", total)
		}
	}()
	for n := range 400 {
		q := corrupt(r, serials[r.IntN(len(serials))], r.IntN(3))
		if n%5 == 0 {
			b := []byte(q)
			b[r.IntN(len(b))] = '?'
			q = string(b)
		}
		qi := queryInfo{qn: normalize(nil, q, true)}
		qi.qskel = appendSkeleton(nil, qi.qn)
		for _, c := range qi.qn {
			if c == '?' {
				qi.unread++
			} else {
				qi.known++
			}
		}
		k := editBudget(qi.known)
		if qi.unread > 0 {
			k = min(k, maxDeletions-qi.unread)
		}
		var want []string
		for i, s := range serials {
			if i%10 != 0 && osa([]byte(Skeleton(s)), qi.qskel) <= k {
				want = append(want, entries[i].Key)
			}
		}
		total += len(want)
		for name, ix := range map[string]*Index{"bulk": bulk, "live": live} {
			got := keysOf(ix.Search(Query{Serial: q, Limit: MaxLimit}))
			for _, w := range want {
				if !slices.Contains(got, w) {
					t.Fatalf("%s: query %q (k=%d): %s (%s) not found", name, q, k, w, serials[keyIndex(w)])
				}
			}
		}
	}
}

func keysOf(res []Result) []string {
	out := make([]string, len(res))
	for i, r := range res {
		out[i] = r.Key
	}
	return out
}

func keyIndex(k string) int {
	var i int
	fmt.Sscanf(k, "K%05d", &i)
	return i
}
