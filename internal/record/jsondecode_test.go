package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"
)

// decodeStd is the reference UnmarshalJSONLine must agree with; end is the offset after the value.
func decodeStd(b []byte) (r Record, end int, err error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err = dec.Decode(&r)
	return r, int(dec.InputOffset()), err
}

// fataler is what checkSame needs from *testing.T and *rapid.T alike.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// checkSame fails unless UnmarshalJSONLine and encoding/json agree on b: the same error message when
// encoding/json fails, the same Record when it succeeds, and ErrTrailingData when it succeeds but
// ignored non-space bytes after the value.
func checkSame(t fataler, b []byte) {
	t.Helper()
	want, end, wantErr := decodeStd(b)
	got := Record{ID: "stale", OtherSerials: []string{"stale"}} // must be reset
	err := got.UnmarshalJSONLine(b)
	switch {
	case wantErr != nil:
		if err == nil {
			t.Fatalf("accepted %q, encoding/json rejects it: %v\ngot %#v", b, wantErr, got)
		}
		if err.Error() != wantErr.Error() {
			t.Fatalf("input %q: error %q, encoding/json says %q", b, err, wantErr)
		}
	case len(bytes.Trim(b[end:], " \t\r\n")) > 0:
		if !errors.Is(err, ErrTrailingData) {
			t.Fatalf("input %q: trailing data after offset %d gave %v, want ErrTrailingData", b, end, err)
		}
	case err != nil:
		t.Fatalf("input %q: %v, encoding/json accepts it as %#v", b, err, want)
	case !reflect.DeepEqual(got, want):
		t.Fatalf("input %q:\n got %#v\nwant %#v", b, got, want)
	}
}

const realisticLine = `{"id":"FR-2019-004512","serial":"BXK 0123","make":"Glock","model":"17",` +
	`"calibre":"9x19","type":"pistol","country_of_manufacture":"AT","recording_country":"FR",` +
	`"status":"stolen","event_date":"2019-03-02","case_reference":"NCB-FR-2019-1234"}`

const escapedLine = `{"id":"DE-2021-77","serial":"A\u00e9 12\/3","other_serials":["SL-991","BRL \"7\"",` +
	`"\ud83d\ude00"],"make":"Sig Sauer","model":"P226","calibre":"9x19","type":"pistol",` +
	`"country_of_manufacture":"DE","recording_country":"DE","status":"trafficked",` +
	`"event_date":"2021-11-30","case_reference":"BKA\\2021\\77","remarks":"seen in\ttransit\n",` +
	`"review_date":"2026-11-30"}`

func TestUnmarshalJSONLine(t *testing.T) {
	realistic := Record{ID: "FR-2019-004512", Serial: "BXK 0123", Make: "Glock", Model: "17",
		Calibre: "9x19", Type: "pistol", CountryOfManufacture: "AT", RecordingCountry: "FR",
		Status: "stolen", EventDate: "2019-03-02", CaseReference: "NCB-FR-2019-1234"}
	tests := []struct {
		name    string
		in      string
		want    Record
		wantErr string // substring of the error; empty for success
		fast    bool   // decided by the fast path alone
	}{
		{"realistic", realisticLine, realistic, "", true},
		{"escapes and other serials", escapedLine, Record{ID: "DE-2021-77", Serial: "Aé 12/3",
			OtherSerials: []string{"SL-991", `BRL "7"`, "😀"}, Make: "Sig Sauer", Model: "P226",
			Calibre: "9x19", Type: "pistol", CountryOfManufacture: "DE", RecordingCountry: "DE",
			Status: "trafficked", EventDate: "2021-11-30", CaseReference: `BKA\2021\77`,
			Remarks: "seen in\ttransit\n", ReviewDate: "2026-11-30"}, "", true},
		{"white space everywhere", " \t\r\n{ \"id\" :\t\"a\" ,\n\"serial\"\r:\"b\" } \n", Record{ID: "a", Serial: "b"}, "", true},
		{"empty object", `{}`, Record{}, "", true},
		{"top-level null", ` null `, Record{}, "", true},

		{"upper-case key", `{"SERIAL":"x"}`, Record{Serial: "x"}, "", true},
		{"mixed-case key", `{"Other_Serials":["x"],"Country_Of_Manufacture":"AT"}`, Record{OtherSerials: []string{"x"}, CountryOfManufacture: "AT"}, "", true},
		{"escaped key", `{"\u0073erial":"x"}`, Record{Serial: "x"}, "", true},
		{"kelvin sign folds to k", "{\"ma\u212ae\":\"x\"}", Record{Make: "x"}, "", false},
		{"long s folds to s", "{\"\u017ferial\":\"x\"}", Record{Serial: "x"}, "", false},
		{"key with a space", `{"serial ":"x"}`, Record{}, `json: unknown field "serial "`, false},
		{"unknown field", `{"id":"a","name":"x"}`, Record{}, `json: unknown field "name"`, false},
		{"unknown long field", `{"country_of_manufacture_x":"x"}`, Record{}, `json: unknown field "country_of_manufacture_x"`, false},

		{"duplicate: last wins", `{"id":"a","id":"b"}`, Record{ID: "b"}, "", true},
		{"duplicate in other case", `{"serial":"a","SERIAL":"b"}`, Record{Serial: "b"}, "", true},
		{"null keeps string", `{"id":"a","id":null}`, Record{ID: "a"}, "", true},
		{"null string field", `{"make":null}`, Record{}, "", true},
		{"other serials null", `{"other_serials":["a"],"other_serials":null}`, Record{}, "", true},
		{"other serials empty", `{"other_serials":[ ]}`, Record{OtherSerials: []string{}}, "", true},
		{"other serials null element", `{"other_serials":[null,"x"]}`, Record{OtherSerials: []string{"", "x"}}, "", true},
		{"other serials many", `{"other_serials":["1","2","3","4","5","6","7","8","9","10"]}`,
			Record{OtherSerials: []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}}, "", true},
		{"other serials after empty", `{"other_serials":[],"other_serials":["a"]}`, Record{OtherSerials: []string{"a"}}, "", true},
		// encoding/json decodes a repeated array into the old backing array, so nulls keep old elements.
		{"other serials reuse", `{"other_serials":["a","b","c"],"other_serials":["x"],"other_serials":["y",null,null]}`,
			Record{OtherSerials: []string{"y", "b", "c"}}, "", false},

		{"number for string", `{"id":1}`, Record{}, "cannot unmarshal number", false},
		{"bool for string", `{"id":true}`, Record{}, "cannot unmarshal bool", false},
		{"object for string", `{"id":{}}`, Record{}, "cannot unmarshal object", false},
		{"array for string", `{"id":["a"]}`, Record{}, "cannot unmarshal array", false},
		{"string for other serials", `{"other_serials":"a"}`, Record{}, "cannot unmarshal string", false},
		{"number in other serials", `{"other_serials":[1]}`, Record{}, "cannot unmarshal number", false},
		{"top-level array", `[]`, Record{}, "cannot unmarshal array", false},
		{"top-level string", `"x"`, Record{}, "cannot unmarshal string", false},

		{"short escapes", `{"remarks":"\"\\\/\b\f\n\r\t"}`, Record{Remarks: "\"\\/\b\f\n\r\t"}, "", true},
		{"u escape", `{"make":"\u00e9\u00C9"}`, Record{Make: "éÉ"}, "", true},
		{"surrogate pair", `{"remarks":"\ud83d\ude00"}`, Record{Remarks: "😀"}, "", true},
		{"lone high surrogate", `{"remarks":"\ud800x"}`, Record{Remarks: "\ufffdx"}, "", true},
		{"lone low surrogate", `{"remarks":"\udc00"}`, Record{Remarks: "\ufffd"}, "", true},
		{"high then letter", `{"remarks":"\ud800\u0041"}`, Record{Remarks: "\ufffdA"}, "", true},
		{"two high surrogates", `{"remarks":"\ud800\ud800"}`, Record{Remarks: "\ufffd\ufffd"}, "", true},
		{"invalid utf-8", "{\"remarks\":\"a\xffb\"}", Record{Remarks: "a\ufffdb"}, "", true},
		{"truncated utf-8", "{\"remarks\":\"a\xc3\"}", Record{Remarks: "a\ufffd"}, "", true},
		{"utf-8 surrogate", "{\"remarks\":\"\xed\xa0\x80\"}", Record{Remarks: "\ufffd\ufffd\ufffd"}, "", true},
		{"valid utf-8 and del", "{\"make\":\"Česká zbrojovka\x7f\"}", Record{Make: "Česká zbrojovka\x7f"}, "", true},
		{"control character", "{\"remarks\":\"a\nb\"}", Record{}, "invalid character", false},
		{"invalid escape", `{"remarks":"\x"}`, Record{}, "invalid character", false},
		{"quote escape", `{"remarks":"\'"}`, Record{}, "invalid character", false},
		{"short u escape", `{"remarks":"\u12"}`, Record{}, "invalid character", false},

		{"trailing garbage", `{"id":"a"} x`, Record{}, "trailing data", true},
		{"two objects", `{"id":"a"}{"id":"b"}`, Record{}, "trailing data", true},
		{"null then garbage", `nullx`, Record{}, "trailing data", true},
		{"trailing garbage on slow path", "{\"\u017ferial\":\"x\"}x", Record{}, "trailing data", false},
		{"empty", ``, Record{}, "EOF", false},
		{"only space", " \n", Record{}, "EOF", false},
		{"unterminated object", `{"id":"a"`, Record{}, "unexpected EOF", false},
		{"unterminated string", `{"id":"a`, Record{}, "unexpected EOF", false},
		{"trailing comma", `{"id":"a",}`, Record{}, "invalid character", false},
		{"trailing comma in array", `{"other_serials":["a",]}`, Record{}, "invalid character", false},
		{"missing colon", `{"id" "a"}`, Record{}, "invalid character", false},
		{"missing comma", `{"id":"a" "serial":"b"}`, Record{}, "invalid character", false},
		{"bad literal", `{"id":nul}`, Record{}, "invalid character", false},
		{"literal run-on", `{"id":nullx}`, Record{}, "invalid character", false},
		{"byte order mark", "\ufeff{}", Record{}, "invalid character", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte(tc.in)
			checkSame(t, b)
			var r Record
			err := r.UnmarshalJSONLine(b)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			case tc.wantErr == "" && !reflect.DeepEqual(r, tc.want):
				t.Fatalf("got %#v\nwant %#v", r, tc.want)
			}
			var scratch Record
			p := lineParser{b: b}
			if fast := p.line(&scratch); fast != tc.fast {
				t.Errorf("fast path took it: %v, want %v", fast, tc.fast)
			}
		})
	}
}

func TestUnmarshalJSONLineResetsRecord(t *testing.T) {
	for _, in := range []string{`{"serial":"x"}`, "{\"\u017ferial\":\"x\"}"} {
		r := Record{ID: "old", OtherSerials: []string{"old"}, Remarks: "old"}
		if err := r.UnmarshalJSONLine([]byte(in)); err != nil {
			t.Fatal(err)
		}
		if want := (Record{Serial: "x"}); !reflect.DeepEqual(r, want) {
			t.Errorf("%s: got %#v, want %#v", in, r, want)
		}
	}
}

func TestUnmarshalJSONLineSharesCodedValues(t *testing.T) {
	line := []byte(realisticLine)
	var r Record
	allocs := testing.AllocsPerRun(100, func() {
		if err := r.UnmarshalJSONLine(line); err != nil {
			t.Fatal(err)
		}
	})
	// id, serial, make, model, calibre, event_date, case_reference; type, status and the two
	// country codes are shared, and falling back to encoding/json would cost many more.
	if allocs > 7 {
		t.Errorf("%v allocations per line, want at most 7", allocs)
	}
}

func FuzzUnmarshalJSONLine(f *testing.F) {
	for _, s := range []string{realisticLine, escapedLine, `null`, `{}`, `{"SERIAL":null}`,
		`{"other_serials":["a",null],"other_serials":[null]}`, "{\"remarks\":\"\\ud800\\udc00\xff\"}",
		`{"id":"a"} {"id":"b"}`, `{"id":1}`, `{"name":"x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkSame(t, b) })
}

// TestUnmarshalJSONLineMatchesMarshal decodes what encoding/json itself writes for random records.
func TestUnmarshalJSONLineMatchesMarshal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rec := recordGen().Draw(t, "record")
		line, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		checkSame(t, line)
		var got Record
		if err := got.UnmarshalJSONLine(line); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if validUTF8(rec) && !reflect.DeepEqual(got, rec) {
			t.Fatalf("%s:\n got %#v\nwant %#v", line, got, rec)
		}
	})
}

// TestUnmarshalJSONLineMatchesHandBuilt decodes lines written by hand with the freedoms JSON and
// encoding/json allow: white space, key case, duplicates, nulls, escapes, raw invalid UTF-8, and
// now and then a mistake, so errors are compared too.
func TestUnmarshalJSONLineMatchesHandBuilt(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		line, valid := handBuiltLine(t, recordGen().Draw(t, "record"))
		if _, _, err := decodeStd(line); valid && err != nil {
			t.Fatalf("generator wrote a line encoding/json rejects: %q: %v", line, err)
		}
		checkSame(t, line)
	})
}

func validUTF8(r Record) bool {
	for _, s := range append([]string{r.ID, r.Serial, r.Make, r.Model, r.Calibre, r.Type,
		r.CountryOfManufacture, r.RecordingCountry, r.Status, r.EventDate, r.CaseReference,
		r.Remarks, r.ReviewDate}, r.OtherSerials...) {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return len(r.OtherSerials) > 0 || r.OtherSerials == nil // omitempty drops an empty list
}

// valueGen mixes arbitrary Unicode, the characters JSON must escape, and raw bytes that are often
// not UTF-8.
func valueGen() *rapid.Generator[string] {
	tricky := rapid.RuneFrom([]rune{'"', '\\', '/', '\b', '\f', '\n', '\r', '\t', 0, 0x1f, 0x7f,
		'é', 'ſ', 'K', 0x2028, 0xfffd, 0xffff, '😀', 0x10ffff, '<', '&', 'a', 'Z', ' '})
	return rapid.OneOf(
		rapid.String(),
		rapid.StringOf(tricky),
		rapid.Map(rapid.SliceOf(rapid.Byte()), func(b []byte) string { return string(b) }),
		rapid.SampledFrom([]string{"", "pistol", "stolen", "FR", "fr", "9x19", "2019-03-02"}),
	)
}

func recordGen() *rapid.Generator[Record] {
	return rapid.Custom(func(t *rapid.T) Record {
		v := valueGen()
		r := Record{ID: v.Draw(t, "id"), Serial: v.Draw(t, "serial"), Make: v.Draw(t, "make"),
			Model: v.Draw(t, "model"), Calibre: v.Draw(t, "calibre"), Type: v.Draw(t, "type"),
			CountryOfManufacture: v.Draw(t, "com"), RecordingCountry: v.Draw(t, "rc"),
			Status: v.Draw(t, "status"), EventDate: v.Draw(t, "event"),
			CaseReference: v.Draw(t, "case"), Remarks: v.Draw(t, "remarks"), ReviewDate: v.Draw(t, "review")}
		switch rapid.IntRange(0, 2).Draw(t, "others") {
		case 1:
			r.OtherSerials = []string{}
		case 2:
			r.OtherSerials = rapid.SliceOfN(v, 1, 12).Draw(t, "other_serials")
		}
		return r
	})
}

// jsonNames lists the JSON names in the order of the field indexes (fieldID and on).
var jsonNames = []string{"id", "serial", "other_serials", "make", "model", "calibre", "type",
	"country_of_manufacture", "recording_country", "status", "event_date", "case_reference",
	"remarks", "review_date"}

func fieldValues(r Record) []string {
	return []string{r.ID, r.Serial, "", r.Make, r.Model, r.Calibre, r.Type, r.CountryOfManufacture,
		r.RecordingCountry, r.Status, r.EventDate, r.CaseReference, r.Remarks, r.ReviewDate}
}

// handBuiltLine writes r as a JSON object by hand; valid is false when a deliberate mistake was
// made (unknown key, wrong type, broken syntax).
func handBuiltLine(t *rapid.T, r Record) (line []byte, valid bool) {
	var b bytes.Buffer
	ws := func() {
		b.WriteString(rapid.StringOfN(rapid.SampledFrom([]rune(" \t\r\n")), 0, 3, -1).Draw(t, "ws"))
	}
	valid = true
	values := fieldValues(r)
	exotic := rapid.IntRange(0, 9).Draw(t, "exotic keys") == 0 // sends the line to encoding/json
	ws()
	b.WriteByte('{')
	first := true
	order := rapid.Permutation([]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}).Draw(t, "order")
	for _, f := range order {
		if rapid.IntRange(0, 4).Draw(t, "omit") == 0 {
			continue
		}
		// Before the real member, maybe a decoy under the same key; after it, maybe a null, which
		// leaves a string in place and clears other_serials.
		copies := []string{"real"}
		if rapid.IntRange(0, 5).Draw(t, "decoy") == 0 {
			copies = append([]string{"decoy"}, copies...)
		}
		if rapid.IntRange(0, 5).Draw(t, "trailing null") == 0 {
			copies = append(copies, "null")
		}
		for _, which := range copies {
			if !first {
				b.WriteByte(',')
			}
			first = false
			ws()
			writeKey(t, &b, jsonNames[f], exotic)
			ws()
			b.WriteByte(':')
			ws()
			switch {
			case which == "null":
				b.WriteString("null")
			case f == fieldOtherSerials && which == "decoy":
				writeOtherSerials(t, &b, rapid.SliceOfN(valueGen(), 0, 3).Draw(t, "decoy list"))
			case f == fieldOtherSerials:
				if r.OtherSerials == nil {
					b.WriteString("null")
				} else {
					writeOtherSerials(t, &b, r.OtherSerials)
				}
			case which == "decoy":
				writeString(t, &b, valueGen().Draw(t, "decoy"), true)
			default:
				writeString(t, &b, values[f], true)
			}
			ws()
		}
	}
	switch rapid.IntRange(0, 19).Draw(t, "mistake") {
	case 0:
		b.WriteString(`,"name":"x"`)
		valid = false
	case 1:
		b.WriteString(`,"model":17`)
		valid = false
	case 2:
		b.WriteString(`,`)
		valid = false
	}
	b.WriteByte('}')
	ws()
	if rapid.IntRange(0, 19).Draw(t, "trailing") == 0 {
		b.WriteString(`{"id":"x"}`) // encoding/json ignores it; UnmarshalJSONLine must not
	}
	return b.Bytes(), valid
}

// writeKey spells a field name with random case and, when exotic, sometimes with a letter that folds
// to it from outside ASCII.
func writeKey(t *rapid.T, b *bytes.Buffer, name string, exotic bool) {
	var k strings.Builder
	for _, c := range name {
		switch rapid.IntRange(0, 9).Draw(t, "key char") {
		case 0, 1:
			c = []rune(strings.ToUpper(string(c)))[0]
		case 2:
			if !exotic {
				break
			}
			switch c {
			case 's':
				c = 'ſ'
			case 'k':
				c = 'K'
			}
		}
		k.WriteRune(c)
	}
	writeString(t, b, k.String(), false)
}

func writeOtherSerials(t *rapid.T, b *bytes.Buffer, list []string) {
	b.WriteByte('[')
	for i, s := range list {
		if i > 0 {
			b.WriteByte(',')
		}
		if s == "" && rapid.Bool().Draw(t, "null element") {
			b.WriteString(" null ") // decodes to "" as well
		} else {
			writeString(t, b, s, true)
		}
	}
	b.WriteByte(']')
}

// writeString quotes s, escaping what JSON requires and, at random, what it merely allows; bytes that
// are not UTF-8 are written raw, and with lone set a lone surrogate escape is now and then slipped in.
func writeString(t *rapid.T, b *bytes.Buffer, s string, lone bool) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			b.WriteByte(s[i])
			i++
			continue
		}
		i += size
		style := rapid.IntRange(0, 3).Draw(t, "escape")
		switch {
		case style == 0 && c > 0xffff:
			hi, lo := 0xd800+(c-0x10000)>>10, 0xdc00+(c-0x10000)&0x3ff
			fmt.Fprintf(b, `\u%04x\u%04X`, hi, lo)
		case style == 0:
			fmt.Fprintf(b, `\u%04x`, c)
		case c == '"' || c == '\\' || (c == '/' && style == 1):
			b.WriteByte('\\')
			b.WriteRune(c)
		case c < ' ':
			if e := map[rune]string{'\b': `\b`, '\f': `\f`, '\n': `\n`, '\r': `\r`, '\t': `\t`}[c]; e != "" && style == 1 {
				b.WriteString(e)
			} else {
				fmt.Fprintf(b, `\u%04X`, c)
			}
		default:
			b.WriteRune(c)
		}
	}
	if lone && rapid.IntRange(0, 29).Draw(t, "lone surrogate") == 0 {
		b.WriteString(`\udbff`)
	}
	b.WriteByte('"')
}
