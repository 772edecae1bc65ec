package matcher

import (
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestMeasureTrie prints the numbers DESIGN.md quotes for the trie walk. It runs only when
// MATCHER_MEASURE names a record count, e.g. MATCHER_MEASURE=1400000.
func TestMeasureTrie(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("MATCHER_MEASURE"))
	if n == 0 {
		t.Skip("set MATCHER_MEASURE=N to measure")
	}
	serials := testSerials(n, 1)
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	skels := make([][]byte, len(serials))
	for i, s := range serials {
		skels[i] = appendSkeleton(nil, normalize(nil, s, false))
	}
	slices.SortFunc(skels, func(a, b []byte) int { return slices.Compare(a, b) })
	var tr, rv trie
	tr.init()
	rv.init()
	for i, s := range skels {
		tr.group[tr.insert(s)] = uint32(i + 1)
	}
	for i, s := range skels {
		rv.group[rv.insert(reversed(s))] = uint32(i + 1)
	}
	build := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	t.Logf("records=%d nodes=%d trie=%d MB reverse nodes=%d MB=%d build=%v", n, tr.nodes(), tr.bytes()>>20,
		rv.nodes(), rv.bytes()>>20, build)
	r := rand.New(rand.NewPCG(2, 2))
	var w walker
	for _, k := range []int{0, 1, 2} {
		var lat []time.Duration
		nodes, found := 0, 0
		for range 2000 {
			q := corrupt(r, serials[r.IntN(len(serials))], k)
			p := appendSkeleton(nil, normalize(nil, q, true))
			st := time.Now()
			w.nodes = 0
			w.walk(&tr, p, k, func(uint32, int) { found++ })
			lat = append(lat, time.Since(st))
			nodes += w.nodes
		}
		slices.Sort(lat)
		t.Logf("plain k=%d p50=%v p99=%v nodes/query=%d found/query=%.1f", k, lat[len(lat)/2],
			lat[len(lat)*99/100], nodes/len(lat), float64(found)/float64(len(lat)))
	}
}

func reversed(s []byte) []byte {
	r := make([]byte, len(s))
	for i, c := range s {
		r[len(s)-1-i] = c
	}
	return r
}
