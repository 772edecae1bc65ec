package eval

import (
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/fedarms/fedarms/matcher"
)

// BenchmarkSearchClass measures Search at the size MATCHER_BENCH_RECORDS names (skipped without
// it) on exact-class queries and on clear negatives (unrecorded serials with the make, calibre,
// type and half the time the model, what a bulk screening sends): all of them, and the slowest
// tenth of them (which decides the p99), so that a profile of the tail has enough samples:
//
//	MATCHER_BENCH_RECORDS=1400000 go test -run XXX -bench SearchClass -cpuprofile cpu.out ./matcher/eval
func BenchmarkSearchClass(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("MATCHER_BENCH_RECORDS"))
	if n == 0 {
		b.Skip("set MATCHER_BENCH_RECORDS to the number of records")
	}
	d := NewDataset(n, 1)
	cases := NewGenerator(d, 1).Cases(2000)
	ix := matcher.New(Tables{}, matcher.Options{})
	ix.PutMany(d.Entries)
	for _, class := range []string{"exact", "alias", "neg-clear"} {
		var qs []matcher.Query
		for _, c := range cases {
			if c.Class == class {
				qs = append(qs, c.Query)
			}
		}
		cost := make([]time.Duration, len(qs))
		for i, q := range qs {
			t0 := time.Now()
			for range 5 {
				ix.Search(q)
			}
			cost[i] = time.Since(t0)
		}
		order := make([]int, len(qs))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return int(cost[b] - cost[a]) })
		slow := make([]matcher.Query, 0, len(qs)/10)
		for _, i := range order[:len(qs)/10] {
			slow = append(slow, qs[i])
		}
		for _, set := range []struct {
			name string
			qs   []matcher.Query
		}{{class, qs}, {class + "-slowest-tenth", slow}} {
			b.Run(set.name, func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					ix.Search(set.qs[i%len(set.qs)])
					i++
				}
			})
		}
	}
}
