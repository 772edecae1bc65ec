package matcher

import (
	"fmt"
	"testing"
	"time"
)

// putEntries generates n entries shaped like the node's records: serials in factory runs, a
// handful of makes, one record in ten with an other serial.
func putEntries(n int) []Entry {
	serials := testSerials(n+n/10, 41)
	makes := []string{"Glock", "Beretta", "Colt", "HK", "Izhmash", "S&W"}
	es := make([]Entry, n)
	for i := range es {
		es[i] = Entry{Key: fmt.Sprintf("R%08d", i), Serial: serials[i], Make: makes[i%len(makes)],
			Model: "M" + makes[(i/7)%len(makes)], Calibre: "9mm", Type: "pistol"}
		if i%10 == 0 {
			es[i].OtherSerials = []string{serials[n+i/10]}
		}
	}
	return es
}

// BenchmarkPut measures the write path as the node drives it while it applies replicated
// changes: one Put per record into a growing index. It reports the rate and the slowest single
// Put (a write lock the node holds while searches wait). BenchmarkPutBaseline beside it is the
// floor any index pays: the entry kept in a map by key.
func BenchmarkPut(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_400_000} {
		es := putEntries(n)
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var slowest time.Duration
			for b.Loop() {
				ix := New(fakeRef{}, Options{})
				for i := range es {
					t0 := time.Now()
					ix.Put(es[i])
					slowest = max(slowest, time.Since(t0))
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/record")
			b.ReportMetric(float64(slowest.Microseconds()), "slowest-µs")
		})
	}
}

func BenchmarkPutBaseline(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_400_000} {
		es := putEntries(n)
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m := map[string]Entry{}
				for i := range es {
					m[es[i].Key] = es[i]
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/record")
		})
	}
}
