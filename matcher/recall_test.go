package matcher

import "testing"

// A transposed or dropped character invents nothing, where a substitution or an inserted
// character must put there a character that is not on the firearm: of two records one edit from
// the query, the one a slip explains ranks first, whatever their keys (before, they tied and the
// key decided; on the suite at 1.4M that was most of transpose's gap to its ceiling).
func TestSlipOutranksInventedCharacter(t *testing.T) {
	for _, tt := range []struct {
		name, query, truth string
		records            []Entry
	}{
		{"transposition", "AB12354", "Z-1", []Entry{
			{Key: "A-1", Serial: "AB12355", Make: "Glock"}, // the query with its 4 replaced
			{Key: "Z-1", Serial: "AB12345", Make: "Glock"}, // the query with 5 and 4 swapped
		}},
		{"dropped character", "AB1234", "Z-1", []Entry{
			{Key: "A-1", Serial: "AB1284", Make: "Glock"},  // the query with its 3 replaced
			{Key: "Z-1", Serial: "AB12345", Make: "Glock"}, // the query lacks its 5
		}},
		{"added character is no slip", "AB123945", "Z-1", []Entry{
			{Key: "A-1", Serial: "AB12394", Make: "Glock"},  // the query has a 5 added: invented
			{Key: "Z-1", Serial: "AB123495", Make: "Glock"}, // 4 and 9 swapped
		}},
	} {
		ix := New(fakeRef{}, Options{})
		for _, e := range tt.records {
			ix.Put(e)
		}
		for _, mk := range []string{"", "Glock"} {
			res := ix.Search(Query{Serial: tt.query, Make: mk})
			if rankOf(res, tt.truth) != 0 {
				t.Errorf("%s (make %q): %s first, want %s: %+v", tt.name, mk, res[0].Key, tt.truth, res)
			}
			if len(res) > 1 && res[0].Score <= res[1].Score {
				t.Errorf("%s: scores %.4f and %.4f do not tell the slip from the substitution", tt.name,
					res[0].Score, res[1].Score)
			}
		}
	}
	// An edit is an edit: a slip still ranks below an exact serial and above two edits.
	ix := New(fakeRef{}, Options{})
	ix.Put(Entry{Key: "A-1", Serial: "AB12345"})
	ix.Put(Entry{Key: "A-2", Serial: "AB12354"})
	ix.Put(Entry{Key: "A-3", Serial: "AB13254"})
	res := ix.Search(Query{Serial: "AB12354"})
	if len(res) != 3 || res[0].Key != "A-2" || res[1].Key != "A-1" || res[2].Key != "A-3" {
		t.Errorf("exact, one slip, two slips: got %+v", res)
	}
}

// The alignment counts the edits that invent no character.
func TestAlignCountsSlips(t *testing.T) {
	for _, tt := range []struct {
		record, query      string
		edits, slips, conf int
	}{
		{"AB12345", "AB12354", 1, 1, 0},  // transposition
		{"AB12345", "AB1234", 1, 1, 0},   // the query lacks a character
		{"AB12345", "AB123456", 1, 0, 0}, // the query has one more
		{"AB12345", "AB12355", 1, 0, 0},  // substitution
		{"AB12345", "A812354", 1, 1, 1},  // transposition and a confusion
		{"L9531Y", "931Y", 2, 2, 0},      // two characters not read
		{"39808", "4908", 2, 1, 0},       // one not read, one replaced
	} {
		a := align([]byte(tt.record), []byte(tt.query))
		if a.edits != tt.edits || a.slips != tt.slips || a.confusions != tt.conf {
			t.Errorf("align(%s, %s) = %+v, want edits %d slips %d confusions %d", tt.record, tt.query, a,
				tt.edits, tt.slips, tt.conf)
		}
	}
}

// Four read characters with a make are sought two edits away: "931Y" for Walther's L9531Y (two
// characters not read) was never found, since four characters allowed one edit. Without a make
// they still allow one.
func TestShortSerialWithMakeFindsTwoEdits(t *testing.T) {
	ix := New(fakeRef{}, Options{})
	ix.Put(Entry{Key: "PE-1", Serial: "L9531Y", Make: "Beretta", Calibre: "9mm", Type: "pistol"})
	ix.Put(Entry{Key: "PE-2", Serial: "39808", Make: "Beretta", Calibre: "9mm", Type: "pistol"})
	ix.Put(Entry{Key: "PE-3", Serial: "L9531Y", Make: "Glock"})
	for _, tt := range []struct{ serial, want string }{{"931Y", "PE-1"}, {"4908", "PE-2"}} {
		res := ix.Search(Query{Serial: tt.serial, Make: "Beretta"})
		if rankOf(res, tt.want) < 0 {
			t.Errorf("%s with make: %s not found: %+v", tt.serial, tt.want, res)
		}
		for _, r := range res {
			if r.Hit || r.Review {
				t.Errorf("%s: two edits of four characters shown as %+v", tt.serial, r)
			}
			if r.Key == "PE-3" {
				t.Errorf("%s: another make's record found two edits away", tt.serial)
			}
		}
		if res := ix.Search(Query{Serial: tt.serial}); rankOf(res, tt.want) >= 0 {
			t.Errorf("%s without make: two edits of four characters found %+v", tt.serial, res)
		}
	}
}
