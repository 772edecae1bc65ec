package record

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// TestAppendJSONIsEncodingJSON holds AppendJSONString and AppendJSON to encoding/json's bytes: every
// single byte alone and inside plain text (the whole-string path and the escaping one), and random
// records mixing plain text, HTML characters, control characters, multi-byte and invalid UTF-8.
func TestAppendJSONIsEncodingJSON(t *testing.T) {
	check := func(s string) {
		t.Helper()
		want, _ := json.Marshal(s)
		if got := AppendJSONString([]byte("x"), s); !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Fatalf("%q: %s, want %s", s, got, want)
		}
	}
	for c := range 256 {
		check(string([]byte{byte(c)}))
		check("FRX" + string([]byte{byte(c)}) + "000123")
		check("WA39357" + string([]byte{byte(c)}))
	}
	rng := rand.New(rand.NewPCG(2, 3))
	pieces := []string{"", "a", "FRX000123", "Beretta", "2024-03-01", `"`, `\`, "<", ">", "&", "\n", "\t", "\x00", "\x1f",
		"\x7f", "é", "漢", "\u2028", "\u2029", "\xff", "\xe2\x80", "🔫", " "}
	str := func() string {
		var b []byte
		for range rng.IntN(5) {
			b = append(b, pieces[rng.IntN(len(pieces))]...)
		}
		return string(b)
	}
	for range 5000 {
		s := str()
		check(s)
		r := &Record{ID: str(), Serial: str(), Make: str(), Model: str(), Calibre: str(), Type: str(),
			CountryOfManufacture: str(), RecordingCountry: str(), Status: str(), EventDate: str(),
			CaseReference: str(), Remarks: str(), ReviewDate: str()}
		for range rng.IntN(3) {
			r.OtherSerials = append(r.OtherSerials, str())
		}
		want, _ := json.Marshal(r)
		if got := AppendJSON(nil, r); !bytes.Equal(got, want) {
			t.Fatalf("%+v:\n got %s\nwant %s", r, got, want)
		}
	}
	if got := AppendJSON(nil, nil); string(got) != "null" {
		t.Fatalf("nil record: %s", got)
	}
}
