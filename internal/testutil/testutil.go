// Package testutil holds the few helpers tests of several packages share: waiting for a condition
// (WaitFor, Eventually), how much a call allocates, and whether a JSON document survives a round
// trip. It is imported by tests only and imports no fedarms package.
package testutil

import (
	"bytes"
	"encoding/json"
	"reflect"
	"runtime"
	"testing"
)

// Allocated is how many bytes the process allocated while fn ran (all goroutines', so a caller
// allows some slack).
func Allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// JSONRoundTrip fails unless v (a pointer), once encoded, decodes into a new value of its type
// that encodes to the same bytes: what a node stores or forwards after reading it is what the next
// one reads.
func JSONRoundTrip(t *testing.T, v any) {
	t.Helper()
	first, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%#v does not encode: %v", v, err)
	}
	back := reflect.New(reflect.TypeOf(v).Elem()).Interface()
	if err := json.Unmarshal(first, back); err != nil {
		t.Fatalf("%s does not decode: %v", first, err)
	}
	if second, _ := json.Marshal(back); !bytes.Equal(first, second) {
		t.Fatalf("%s comes back as %s", first, second)
	}
}
