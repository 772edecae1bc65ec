package eval

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"time"
)

// Print writes the report as a table; verbose adds why positives missed their HIT.
func (r *Report) Print(w io.Writer, verbose bool) {
	fmt.Fprintf(w, "records=%d build=%v index heap=%.0f MB ceiling computed in %v\n", r.Records,
		r.Build.Round(time.Millisecond), r.HeapMB, r.CeilingTime.Round(time.Millisecond))
	fmt.Fprintf(w, "%s\n", r.Stats)
	fmt.Fprintf(w, "%-11s %5s %6s %6s %6s %6s %7s %6s %6s %6s %9s %9s | %5s %6s %6s %9s\n",
		"class", "n", "r@1", "ceil1", "r@10", "ceil10", "E[rank]", "hit", "wrong", "review",
		"p50", "p99", "scan", "r@1", "r@10", "p50")
	for _, c := range r.Classes {
		fmt.Fprintf(w, "%-11s %5d %6.3f %6.3f %6.3f %6.3f %7.2f %6.3f %6.4f %6.3f %9v %9v | %5d %6.3f %6.3f %9v\n",
			c.Class, c.N, c.Recall1, c.Ceil1, c.Recall10, c.Ceil10, c.ExpectedRank, c.Hit, c.WrongHit,
			c.Review, c.P50.Round(100*time.Nanosecond), c.P99.Round(100*time.Nanosecond), c.BaseN,
			c.BaseRecall1, c.BaseRecall10, c.BaseP50.Round(10*time.Microsecond))
	}
	for _, c := range r.Classes {
		if len(c.Misses) == 0 || !verbose {
			continue
		}
		fmt.Fprintf(w, "  %s: no HIT on the truth:", c.Class)
		for _, k := range slices.Sorted(maps.Keys(c.Misses)) {
			fmt.Fprintf(w, " %q=%d", k, c.Misses[k])
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "positives: recall@1=%.3f ceiling@1=%.3f\n", r.Recall1, r.Ceil1)
	if r.Throughput > 0 {
		fmt.Fprintf(w, "throughput with 4 concurrent searchers: %.0f searches/s\n", r.Throughput)
	}
}
