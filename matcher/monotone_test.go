package matcher

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// TestAddingAgreeingFieldNeverLowersTruth is the property: for any records and any query
// read off one of them, adding a field that this record agrees with never lowers its rank.
//
// One exception is the documented trade of readExactly (DESIGN.md, "Exact queries"): once the
// query names a make under which its serial is recorded as read, records two edits or a token
// away are not sought. The property is checked for the make only when no other record carries the
// query's serial under the truth's make.
func TestAddingAgreeingFieldNeverLowersTruth(t *testing.T) {
	makes := []string{"Glock", "Beretta", "Colt", "HK", ""}
	calibres := []string{"9mm", "45 ACP", "5.56x45", "223", ""}
	types := []string{"pistol", "rifle", "revolver", ""}
	models := []string{"17", "92FS", "M4", "Python", ""}
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(2, 40).Draw(rt, "records")
		// A factory run or two: serials share a stem and differ in their last characters, so
		// that neighbours one and two edits away abound.
		prefix := rapid.SampledFrom([]string{"", "A", "FA", "K7", "BG "})
		stem := rapid.StringOfN(rapid.RuneFrom([]rune("12345")), 2, 5, -1).Draw(rt, "stem")
		digits := rapid.Custom(func(rt *rapid.T) string {
			return stem + rapid.StringOfN(rapid.RuneFrom([]rune("0123456789")), 2, 3, -1).Draw(rt, "run")
		})
		ix := New(fakeRef{}, Options{})
		entries := make([]Entry, n)
		for i := range entries {
			entries[i] = Entry{Key: fmt.Sprintf("R%03d", i),
				Serial: prefix.Draw(rt, "prefix") + digits.Draw(rt, "digits"),
				Make:   rapid.SampledFrom(makes).Draw(rt, "make"), Calibre: rapid.SampledFrom(calibres).Draw(rt, "calibre"),
				Type: rapid.SampledFrom(types).Draw(rt, "type"), Model: rapid.SampledFrom(models).Draw(rt, "model")}
			ix.Put(entries[i])
		}
		ti := rapid.IntRange(0, n-1).Draw(rt, "truth")
		truth := entries[ti]
		serial := corruptSerial(rt, NormalizeSerial(truth.Serial))
		fields := []string{"make", "calibre", "type", "model"}
		given := map[string]bool{}
		for _, f := range fields {
			given[f] = rapid.Bool().Draw(rt, "give "+f)
		}
		var missing []string
		for _, f := range fields {
			if !given[f] && fieldOf(&truth, f) != "" {
				missing = append(missing, f)
			}
		}
		if len(missing) == 0 {
			return
		}
		add := rapid.SampledFrom(missing).Draw(rt, "add")
		if add == "make" && readAsRecorded(entries, ti, serial) {
			return
		}
		q := Query{Serial: serial, Limit: MaxLimit}
		for _, f := range fields {
			if given[f] {
				setField(&q, f, fieldOf(&truth, f))
			}
		}
		before := rankOf(ix.Search(q), truth.Key)
		setField(&q, add, fieldOf(&truth, add))
		after := rankOf(ix.Search(q), truth.Key)
		if before >= 0 && (after < 0 || after > before) {
			rt.Fatalf("adding %s=%q moved the truth %s from rank %d to %d (query %+v)", add, fieldOf(&truth, add),
				truth.Key, before, after, q)
		}
	})
}

// corruptSerial reads a serial as an officer might: as is, with one edit, one '?', a mark glued
// to an end or its first characters unread.
func corruptSerial(rt *rapid.T, s string) string {
	b := []byte(s)
	i := rapid.IntRange(0, len(b)-1).Draw(rt, "at")
	switch rapid.IntRange(0, 7).Draw(rt, "corruption") {
	case 1:
		b[i] = "123456789"[rapid.IntRange(0, 8).Draw(rt, "digit")]
	case 2:
		if len(b) > 4 {
			b = slices.Delete(b, i, i+1)
		}
	case 3:
		b = slices.Insert(b, i, '7')
	case 4:
		if i+1 < len(b) {
			b[i], b[i+1] = b[i+1], b[i]
		}
	case 5:
		b[i] = '?'
	case 6:
		b = append([]byte("K7P"), b...)
	case 7:
		if len(b) > 5 {
			b = b[2:]
		}
	}
	return string(b)
}

func fieldOf(e *Entry, f string) string {
	switch f {
	case "make":
		return e.Make
	case "calibre":
		return e.Calibre
	case "type":
		return e.Type
	}
	return e.Model
}

func setField(q *Query, f, v string) {
	switch f {
	case "make":
		q.Make = v
	case "calibre":
		q.Calibre = v
	case "type":
		q.Type = v
	default:
		q.Model = v
	}
}

// rankOf is the truth's rank in the order the node shows (by score, then key: node/search.go), or
// -1 when it is not in the answer.
func rankOf(res []Result, key string) int {
	res = slices.Clone(res)
	slices.SortStableFunc(res, func(a, b Result) int {
		if a.Score != b.Score {
			return cmp.Compare(b.Score, a.Score)
		}
		return strings.Compare(a.Key, b.Key)
	})
	return slices.IndexFunc(res, func(r Result) bool { return r.Key == key })
}

// readAsRecorded reports whether another record carries the query serial (as the skeleton reads it)
// under the truth's make.
func readAsRecorded(entries []Entry, truth int, serial string) bool {
	m, _ := fakeRef{}.MakeID(entries[truth].Make)
	for i, e := range entries {
		if em, _ := (fakeRef{}).MakeID(e.Make); i != truth && em == m && Skeleton(e.Serial) == Skeleton(serial) {
			return true
		}
	}
	return false
}

// TestOneEditOutranksTwoWhateverTheFields is the example: with make and model given, the
// record one edit from the query ranked sixth behind records two edits away, all shown at 0.849.
func TestOneEditOutranksTwoWhateverTheFields(t *testing.T) {
	ix := New(fakeRef{}, Options{})
	for i, s := range []string{"WA39357", "WA39365", "WA 39358", "WA39356", "WA39360", "WA39377"} {
		ix.Put(Entry{Key: fmt.Sprintf("R%d", 9-i), Serial: s, Make: "Beretta", Model: "1301", Calibre: "12ga", Type: "shotgun"})
	}
	for _, q := range []Query{
		{Serial: "WA39657"},
		{Serial: "WA39657", Make: "Beretta"},
		{Serial: "WA39657", Make: "Beretta", Model: "1301"},
		{Serial: "WA39657", Make: "Beretta", Model: "1301", Calibre: "12ga", Type: "shotgun"},
	} {
		res := ix.Search(q)
		if rankOf(res, "R9") != 0 {
			t.Fatalf("%+v: the record one edit away is not first in the node's order: %+v", q, res)
		}
		for _, r := range res[1:] {
			if r.Score >= res[0].Score {
				t.Errorf("%+v: %s (%s) scores %.4f, not below the one-edit record's %.4f", q, r.Key, r.Why.Serial, r.Score, res[0].Score)
			}
			if r.Hit {
				t.Errorf("%+v: a misread serial made a HIT of %s", q, r.Key)
			}
		}
		if !res[0].Review || res[0].Hit {
			t.Errorf("%+v: the one-edit record is not a REVIEW: %+v", q, res[0])
		}
	}
}

// TestExactMatchMakesNeighboursContext: an exact HIT explains the query; its factory neighbours
// one edit away are shown below it as context, not as REVIEWs.
func TestExactMatchMakesNeighboursContext(t *testing.T) {
	ix := New(fakeRef{}, Options{})
	for i := range 10 {
		ix.Put(Entry{Key: fmt.Sprintf("R%d", i), Serial: fmt.Sprintf("FRX00012%d", i), Make: "Colt", Calibre: "45 ACP", Type: "pistol"})
	}
	res := ix.Search(Query{Serial: "FRX000123", Make: "Colt", Calibre: "45acp", Type: "pistol"})
	if len(res) < 2 || res[0].Key != "R3" || !res[0].Hit {
		t.Fatalf("want a HIT on R3 first: %+v", res)
	}
	for _, r := range res[1:] {
		if r.Review || r.Hit || r.Score >= DefaultReviewThreshold {
			t.Errorf("%s is shown as more than context: %+v", r.Key, r)
		}
	}
	// Judged on their own (the node's late window), the neighbours are REVIEWs again.
	res = ix.Search(Query{Serial: "FRX000123", Make: "Colt", Calibre: "45acp", Type: "pistol", Independent: true})
	if !res[1].Review {
		t.Errorf("independent: a neighbour is not a REVIEW: %+v", res[1])
	}
}

// TestTiesAreSaid: records that fit a '?' equally are counted and named, with what to read next.
func TestTiesAreSaid(t *testing.T) {
	ix := New(fakeRef{}, Options{})
	for i, s := range []string{"KAN1939", "KAN1949", "KAN1959"} {
		ix.Put(Entry{Key: fmt.Sprintf("R%d", i), Serial: s, Make: "Glock", Calibre: "9mm", Type: "pistol"})
	}
	res := ix.Search(Query{Serial: "KAN19?9", Make: "Glock", Calibre: "9mm", Type: "pistol"})
	if len(res) != 3 {
		t.Fatalf("want the three records: %+v", res)
	}
	for _, r := range res {
		if r.Hit || !r.Review || r.Tie != 3 || !strings.Contains(r.Why.Tie, "slide, barrel, frame") {
			t.Errorf("%s: want a REVIEW tied with 3 that says what to read: %+v", r.Key, r)
		}
	}
	if !strings.Contains(res[0].Why.Tie, "R1") || !strings.Contains(res[0].Why.Tie, "R2") {
		t.Errorf("the tie does not name the others: %q", res[0].Why.Tie)
	}
}
