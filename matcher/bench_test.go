package matcher

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchIndex builds an index of n generated serials under a handful of makes, and queries of the
// given kind against it.
func benchIndex(b *testing.B, n int) (*Index, []Entry) {
	b.Helper()
	serials := testSerials(n, 31)
	makes := []string{"Glock", "Beretta", "Colt", "HK", "Izhmash", "S&W"}
	entries := make([]Entry, n)
	for i, s := range serials {
		entries[i] = Entry{Key: fmt.Sprintf("K%07d", i), Serial: s, Make: makes[i%len(makes)], Type: "pistol"}
	}
	ix := New(fakeRef{}, Options{})
	ix.PutMany(entries)
	return ix, entries
}

func benchQueries(entries []Entry, kind string) []Query {
	r := rand.New(rand.NewPCG(8, 8))
	qs := make([]Query, 1000)
	for i := range qs {
		e := entries[r.IntN(len(entries))]
		s := e.Serial
		switch kind {
		case "fuzzy":
			s = corrupt(r, s, 1+r.IntN(2))
		case "wildcard":
			b := []byte(s)
			b[r.IntN(len(b))] = '?'
			s = string(b)
		}
		qs[i] = Query{Serial: s, Make: e.Make, Type: e.Type}
	}
	return qs
}

// BenchmarkSearch measures Search; BenchmarkLinearScan beside it is the naive way (bit-parallel
// distance to every serial), for the ratio.
func BenchmarkSearch(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		ix, entries := benchIndex(b, n)
		for _, kind := range []string{"exact", "fuzzy", "wildcard"} {
			qs := benchQueries(entries, kind)
			b.Run(fmt.Sprintf("records=%d/%s", n, kind), func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					ix.Search(qs[i%len(qs)])
					i++
				}
			})
		}
	}
}

func BenchmarkLinearScan(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		_, entries := benchIndex(b, n)
		skels := make([][]byte, len(entries))
		for i, e := range entries {
			skels[i] = []byte(Skeleton(e.Serial))
		}
		qs := benchQueries(entries, "fuzzy")
		b.Run(fmt.Sprintf("records=%d/fuzzy", n), func(b *testing.B) {
			b.ReportAllocs()
			var pt pattern
			i, found := 0, 0
			for b.Loop() {
				pt.compile([]byte(Skeleton(qs[i%len(qs)].Serial)))
				for _, s := range skels {
					if pt.osa(s) <= 2 {
						found++
					}
				}
				i++
			}
			_ = found
		})
	}
}

// BenchmarkPutMany measures a bulk load, what a restarted node does.
func BenchmarkPutMany(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		serials := testSerials(n, 31)
		entries := make([]Entry, n)
		for i, s := range serials {
			entries[i] = Entry{Key: fmt.Sprintf("K%07d", i), Serial: s, Make: "Glock", Type: "pistol"}
		}
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				New(fakeRef{}, Options{}).PutMany(entries)
			}
		})
	}
}
