package matcher

import (
	"math/rand/v2"
	"testing"
)

func TestPatternOSAAgreesWithFullDP(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	serials := testSerials(500, 4)
	var pt pattern
	for range 20000 {
		a := []byte(Skeleton(serials[r.IntN(len(serials))]))
		b := []byte(Skeleton(corrupt(r, string(a), r.IntN(4))))
		if r.IntN(4) == 0 {
			a = []byte(Skeleton(serials[r.IntN(len(serials))]))
		}
		if r.IntN(3) == 0 && len(b) > 0 {
			b[r.IntN(len(b))] = '?'
		}
		if !pt.compile(b) {
			t.Fatalf("compile %q", b)
		}
		if got, want := pt.osa(a), osa(a, b); got != want {
			t.Fatalf("osa(%s, %s) = %d, want %d", a, b, got, want)
		}
	}
}
