package wire

import (
	"errors"
	"strings"
	"testing"

	"github.com/fedarms/fedarms/internal/record"
)

// TestDecodeStrictRefuses: each body here was accepted before DecodeStrict checked more than unknown
// fields and a second value (issue 17: trailing garbage, keys in any case, duplicate keys, NUL and
// invalid UTF-8 all decoded).
func TestDecodeStrictRefuses(t *testing.T) {
	bad := []struct{ name, body, field string }{
		{"trailing brace", `{"serial":"A1"}}`, ""},
		{"trailing garbage", `{"serial":"A1"} x`, ""},
		{"second value", `{"serial":"A1"}{"serial":"B2"}`, ""},
		{"key in another case", `{"Serial":"A1"}`, "Serial"},
		{"key in upper case", `{"serial":"A1","ON_BEHALF_OF":"DE-NCB"}`, "ON_BEHALF_OF"},
		{"duplicate key", `{"serial":"A1","serial":"B2"}`, "serial"},
		{"NUL escaped", `{"serial":"A1\u0000B"}`, "serial"},
		{"NUL raw", "{\"serial\":\"A1\x00\"}", ""},
		{"NUL in key", `{"ser\u0000ial":"A1"}`, ""},
		{"invalid UTF-8", "{\"serial\":\"A1\xff\"}", ""},
		{"unknown field", `{"serial":"A1","name":"x"}`, "name"},
		{"empty", ``, ""},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			var req SearchRequest
			err := DecodeStrict(strings.NewReader(c.body), &req)
			var we *Error
			if !errors.As(err, &we) || we.Kind != Invalid {
				t.Fatalf("DecodeStrict(%q) = %v, want an invalid error", c.body, err)
			}
			if c.field != "" && we.Field != c.field {
				t.Errorf("field %q, want %q (%v)", we.Field, c.field, err)
			}
		})
	}
	good := []string{`{"serial":"A1","make":"Glock","limit":5}`, " {\"serial\":\"Ä1\"} \n", `{"serial":"A1","urgent":true}`}
	for _, body := range good {
		var req SearchRequest
		if err := DecodeStrict(strings.NewReader(body), &req); err != nil {
			t.Errorf("DecodeStrict(%q): %v", body, err)
		}
	}
}

// TestDecodeStrictNested: the rules hold inside nested objects and arrays (a trace's firearm, a
// record's other_serials).
func TestDecodeStrictNested(t *testing.T) {
	var tr TraceRequest
	if err := DecodeStrict(strings.NewReader(`{"firearm":{"serial":"A1","Make":"Glock"}}`), &tr); err == nil {
		t.Error("nested key in another case accepted")
	}
	if err := DecodeStrict(strings.NewReader(`{"firearm":{"serial":"A1","serial":"B"}}`), &tr); err == nil {
		t.Error("nested duplicate accepted")
	}
	var rec record.Record
	if err := DecodeStrict(strings.NewReader(`{"id":"X1","other_serials":["A","B\u0000"]}`), &rec); err == nil {
		t.Error("NUL in an array element accepted")
	}
	if err := DecodeStrict(strings.NewReader(`{"id":"X1","other_serials":["A","B"]}`), &rec); err != nil {
		t.Errorf("valid record: %v", err)
	}
}
