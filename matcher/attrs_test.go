package matcher

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestQueryNameCacheAgreesWithResolving checks that a query's fields resolved through the cache
// are what resolving them afresh gives, also after writes that intern a make, a spelling, a
// calibre or a type the cached answer had not seen (then the entry is stale and resolved again),
// from several goroutines at once; and that the cache stays bounded.
func TestQueryNameCacheAgreesWithResolving(t *testing.T) {
	ix := New(fakeRef{}, Options{})
	ix.Put(Entry{Key: "a", Serial: "AB123456", Make: "Glock", Calibre: "9mm", Type: "pistol"})
	queries := []Query{
		{Serial: "AB123456", Make: "Glock"},
		{Serial: "AB123456", Make: "glock", Calibre: "9x19"},
		{Serial: "AB123456", Make: "Beretta", Type: "rifle", Model: "92 FS"},
		{Serial: "AB123456", Make: "Fabbrica d'Armi Pietro Beretta", Calibre: ".45 ACP"},
		{Serial: "AB123456", Make: "Nonesuch Arms", Calibre: "7.62x39", Type: "revolver"},
	}
	check := func(stage string) {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for _, q := range queries {
					if got, want := ix.resolveQuery(&q), ix.resolveQueryOnce(&q); got != want {
						t.Errorf("%s: %+v: cached %+v, resolved %+v", stage, q, got, want)
					}
				}
			})
		}
		wg.Wait()
	}
	check("first")
	check("cached")
	ix.Put(Entry{Key: "b", Serial: "CD654321", Make: "Beretta", Type: "rifle"})
	check("after a new make and type")
	ix.Put(Entry{Key: "c", Serial: "EF111111", Make: "Nonesuch Arms", Calibre: "7.62x39", Type: "revolver"})
	check("after a new calibre")
	if res := ix.Search(queries[4]); len(res) == 0 || res[0].Why.Make == "" {
		t.Fatalf("a make interned after it was cached as unseen does not agree: %+v", res)
	}
	for i := range 2 * maxQueryNames {
		ix.resolveQuery(&Query{Make: fmt.Sprintf("made-up %d", i)})
	}
	ix.resolveQuery(&Query{Make: strings.Repeat("x", 2*maxQueryNameBytes)})
	if n := ix.queryNames.n.Load(); n > maxQueryNames {
		t.Fatalf("%d names cached, at most %d", n, maxQueryNames)
	}
}
