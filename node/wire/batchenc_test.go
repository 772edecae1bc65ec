package wire

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/matcher"
)

// TestAppendBatchAnswerIsEncodingJSON compares the hand-written encoder with encoding/json's
// Encoder on random answers whose strings mix ASCII, HTML characters, control characters,
// multi-byte and invalid UTF-8, line separators, and scores across every float form.
func TestAppendBatchAnswerIsEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 11))
	pieces := []string{"", "a", "FRX000123", "Beretta", `"`, `\`, "<", ">", "&", "\n", "\t", "\r", "\b", "\f",
		"\x00", "\x01", "\x1f", "\x7f", "é", "Ц", "漢", "\u2028", "\u2029", "\xff", "\xc3", "\xe2\x80", "🔫", " ", "/"}
	str := func() string {
		var b []byte
		for range rng.IntN(6) {
			b = append(b, pieces[rng.IntN(len(pieces))]...)
		}
		return string(b)
	}
	floats := []float64{0, 1, 0.5, 0.849, 1e-7, 1.5e-9, 1e21, 123456789, -0.25, math.SmallestNonzeroFloat64, 0.1 + 0.2}
	var enc bytes.Buffer
	je := json.NewEncoder(&enc)
	for i := range 20000 {
		a := BatchAnswer{Line: rng.IntN(1 << 20), SearchID: str()}
		if rng.IntN(10) > 0 {
			a.Results = []SearchResult{}
		}
		for range rng.IntN(4) {
			r := SearchResult{ID: str(), Hit: rng.IntN(2) == 0, Review: rng.IntN(2) == 0, NotificationID: str(), Tie: rng.IntN(3),
				Why: matcher.Why{Serial: str(), Make: str(), Calibre: str(), Type: str(), Model: str(), Hit: str(), Tie: str()}}
			if rng.IntN(2) == 0 {
				r.Score = floats[rng.IntN(len(floats))]
			} else {
				r.Score = rng.Float64()
			}
			if rng.IntN(8) > 0 {
				rec := record.Record{ID: str(), Serial: str(), Make: str(), Model: str(), Calibre: str(), Type: str(),
					CountryOfManufacture: str(), RecordingCountry: str(), Status: str(), EventDate: str(),
					CaseReference: str(), Remarks: str(), ReviewDate: str()}
				for range rng.IntN(3) {
					rec.OtherSerials = append(rec.OtherSerials, str())
				}
				r.Record = &rec
			}
			a.Results = append(a.Results, r)
		}
		enc.Reset()
		if err := je.Encode(a); err != nil {
			t.Fatal(err)
		}
		got, err := AppendBatchAnswer(nil, a)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, enc.Bytes()) {
			t.Fatalf("answer %d:\n got %s\nwant %s", i, got, enc.Bytes())
		}
	}
	if _, err := AppendBatchAnswer(nil, BatchAnswer{Results: []SearchResult{{Score: math.NaN()}}}); err == nil {
		t.Fatal("a NaN score encoded without an error")
	}
}

func BenchmarkAppendBatchAnswer(b *testing.B) {
	rec := record.Record{ID: "FR-000123", Serial: "WA39357", Make: "Beretta", Model: "1301", Calibre: "12GA", Type: "shotgun",
		RecordingCountry: "FR", Status: "stolen", EventDate: "2024-03-01", CaseReference: "PJ-2024-0012", Remarks: "taken from a vehicle"}
	a := BatchAnswer{Line: 12345, SearchID: "s-0123456789abcdef01234567"}
	for range 10 { // a line of a screening with results has up to 10
		a.Results = append(a.Results, SearchResult{ID: rec.ID, Score: 0.8491, Review: true, Record: &rec,
			Why: matcher.Why{Serial: "one substitution (6→3)", Make: "same make", Model: "same model"}})
	}
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = AppendBatchAnswer(buf[:0], a)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		var buf bytes.Buffer
		je := json.NewEncoder(&buf)
		for b.Loop() {
			buf.Reset()
			_ = je.Encode(a)
		}
	})
}
