package transport

import (
	"reflect"
	"testing"
)

func TestFormatsRoundTripAndRefuseNonsense(t *testing.T) {
	in := map[string]FormatRange{"c": {1, 2, 1}, "k": {1, 2, 1}, "s": {1, 1, 1}, "d": {1, 1, 1}, "m": {1, 3, 2}}
	s := EncodeFormats(in)
	if s != "c1-2/1,k1-2/1,m1-3/2" {
		t.Fatalf("encoded %q", s)
	}
	want := map[string]FormatRange{"c": {1, 2, 1}, "k": {1, 2, 1}, "m": {1, 3, 2}}
	if got := DecodeFormats(s); !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
	if s := EncodeFormats(map[string]FormatRange{"a": {1, 1, 1}}); s != "a1-1/1" {
		t.Fatalf("the first kind left out: %q", s)
	}
	for _, bad := range []string{"c2-1/1", "c0-1/1", "c1-2", "1-2/1", "c1-2/x", "c1-99999999/1", "c1-2/0"} {
		if got := DecodeFormats(bad); len(got) != 0 {
			t.Errorf("%q decoded as %+v", bad, got)
		}
	}
}
