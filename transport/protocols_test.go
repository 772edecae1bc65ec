package transport

import (
	"strings"
	"testing"
)

func TestProtocolIDsAreUniqueAndVersioned(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Protocols {
		if seen[p] {
			t.Fatalf("duplicate protocol id %s", p)
		}
		seen[p] = true
		if !strings.HasPrefix(p, "/fedarms/") || !strings.Contains(p[len("/fedarms/"):], "/") {
			t.Fatalf("protocol id %s is not /fedarms/<use>/<version>", p)
		}
	}
}
