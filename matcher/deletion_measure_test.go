package matcher

import (
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestMeasureDeletion prints the numbers DESIGN.md quotes for the symmetric deletion index. It
// runs only when MATCHER_MEASURE names a record count.
func TestMeasureDeletion(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("MATCHER_MEASURE"))
	if n == 0 {
		t.Skip("set MATCHER_MEASURE=N to measure")
	}
	serials := testSerials(n, 1)
	skels := make([][]byte, len(serials))
	for i, s := range serials {
		skels[i] = appendSkeleton(nil, normalize(nil, s, false))
	}
	start := time.Now()
	var entries []uint64
	var hs []uint32
	for g, s := range skels {
		hs, _ = appendVariants(hs[:0], s, 2, true)
		for _, h := range hs {
			entries = append(entries, uint64(h)<<32|uint64(g))
		}
	}
	gen := time.Since(start)
	slices.Sort(entries)
	t.Logf("records=%d entries=%d (%.1f/serial) MB=%d gen=%v total=%v", n, len(entries),
		float64(len(entries))/float64(n), len(entries)*8>>20, gen, time.Since(start))
	lookup := func(h uint32, f func(g uint32)) {
		i, _ := slices.BinarySearch(entries, uint64(h)<<32)
		for ; i < len(entries) && uint32(entries[i]>>32) == h; i++ {
			f(uint32(entries[i]))
		}
	}
	r := rand.New(rand.NewPCG(2, 2))
	for _, k := range []int{1, 2} {
		var lat []time.Duration
		cands, found := 0, 0
		for range 2000 {
			q := corrupt(r, serials[r.IntN(len(serials))], k)
			p := appendSkeleton(nil, normalize(nil, q, true))
			st := time.Now()
			seen := map[uint32]bool{}
			vs, _ := appendVariants(nil, p, k, true)
			for _, h := range vs {
				lookup(h, func(g uint32) {
					if seen[g] {
						return
					}
					seen[g] = true
					cands++
					if osa(skels[g], p) <= k {
						found++
					}
				})
			}
			lat = append(lat, time.Since(st))
		}
		slices.Sort(lat)
		t.Logf("k=%d p50=%v p99=%v candidates/query=%.1f found/query=%.1f", k, lat[len(lat)/2],
			lat[len(lat)*99/100], float64(cands)/2000, float64(found)/2000)
	}
}

// osa is the plain optimal-string-alignment distance, the reference the tiers are checked against.
func osa(a, b []byte) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] || b[j-1] == '?' {
				c = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+c)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
