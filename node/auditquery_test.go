package node

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestAppendAuditedQueryIsEncodingJSON fills every field of the audited query (those of
// wire.SearchRequest found by reflection, so a field added there is covered or fails here) with
// random values and compares the hand-written encoding with encoding/json's.
func TestAppendAuditedQueryIsEncodingJSON(t *testing.T) {
	// Plain values and every kind json escapes: quotes, backslashes, HTML, controls, U+2028, bad UTF-8.
	values := []string{"", "WA39357", "Beretta", "ncb-fr", `a"b\c`, "<&>", "x\n\x00", "é\u2028", "\xff", " "}
	rng := rand.New(rand.NewPCG(4, 2))
	str := func() string { return values[rng.IntN(len(values))] + values[rng.IntN(len(values))] }
	var fill func(v reflect.Value)
	fill = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Struct:
			for i := range v.NumField() {
				fill(v.Field(i))
			}
		case reflect.String:
			v.SetString(str())
		case reflect.Int:
			v.SetInt(int64(rng.IntN(200)) - 10)
		case reflect.Bool:
			v.SetBool(rng.IntN(2) == 0)
		default:
			t.Fatalf("a field of kind %s: appendAuditedQuery does not write it", v.Kind())
		}
	}
	for range 3000 {
		var q auditedSearch
		fill(reflect.ValueOf(&q).Elem())
		want, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendAuditedQuery(nil, &q); !bytes.Equal(got, want) {
			t.Fatalf("%+v:\n got %s\nwant %s", q, got, want)
		}
	}
}
