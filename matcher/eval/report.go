package eval

import (
	"cmp"
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
	if r.SlowestPut > 0 {
		fmt.Fprintf(w, "built by Put one record at a time: %.0f records/s, slowest Put %v\n",
			float64(r.Records)/r.Build.Seconds(), r.SlowestPut.Round(time.Microsecond))
	}
	if r.Prepared {
		fmt.Fprintf(w, "compacted after the build: PrepareCompaction %v, InstallCompaction %v\n",
			r.PrepareTime.Round(time.Millisecond), r.InstallTime.Round(time.Microsecond))
	}
	if r.Compact > 0 {
		fmt.Fprintf(w, "built by PutMany in batches, then Compact: the Compact took %v\n", r.Compact.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "%s\n", r.Stats)
	if r.SearchErrors > 0 {
		fmt.Fprintf(w, "searches that failed (judged as answered with nothing): %d, the first: %v\n", r.SearchErrors, r.SearchError)
	}
	if r.Repeat > 1 {
		fmt.Fprintf(w, "latency: each query's median over %d runs; raw p99 over every run in the last column\n", r.Repeat)
	}
	raw := ""
	if r.Repeat > 1 {
		raw = "   raw p99"
	}
	fmt.Fprintf(w, "%-11s %5s %6s %6s %6s %6s %7s %6s %6s %6s %6s %9s %9s | %5s %6s %6s %9s%s\n",
		"class", "n", "r@1", "ceil1", "r@10", "ceil10", "E[rank]", "hit", "hitmax", "wrong", "review",
		"p50", "p99", "scan", "r@1", "r@10", "p50", raw)
	for _, c := range r.Classes {
		raw = ""
		if r.Repeat > 1 {
			raw = fmt.Sprintf(" %9v", c.RawP99.Round(100*time.Nanosecond))
		}
		fmt.Fprintf(w, "%-11s %5d %6.3f %6.3f %6.3f %6.3f %7.2f %6.3f %6.3f %6.4f %6.3f %9v %9v | %5d %6.3f %6.3f %9v%s\n",
			c.Class, c.N, c.Recall1, c.Ceil1, c.Recall10, c.Ceil10, c.ExpectedRank, c.Hit, c.HitMax, c.WrongHit,
			c.Review, c.P50.Round(100*time.Nanosecond), c.P99.Round(100*time.Nanosecond), c.BaseN,
			c.BaseRecall1, c.BaseRecall10, c.BaseP50.Round(10*time.Microsecond), raw)
	}
	if verbose {
		for _, c := range r.Classes {
			label := c.Class + ": no HIT on the truth:"
			if IsNegative(c.Class) {
				label = c.Class + ": a REVIEW, by what its serial says:"
			}
			printCounts(w, label, " %q=%d", c.Misses)
		}
		for _, c := range r.Classes {
			printCounts(w, c.Class+": truth tied at the top of the ceiling's order, by records tied:", " %d:%d", c.Ties)
		}
	}
	for _, c := range r.Classes {
		if st := c.Work; st.Probes+st.Candidates > 0 && c.N > 0 {
			n := float64(c.N)
			fmt.Fprintf(w, "  %s: per query %.0f probes, %.0f entries matched (%.0f passed over by position), %.0f groups checked, %.0f verified, %.0f candidates\n",
				c.Class, float64(st.Probes)/n, float64(st.Matched)/n, float64(st.Passed)/n, float64(st.Checked)/n,
				float64(st.Verified)/n, float64(st.Candidates)/n)
		}
	}
	for _, c := range r.Classes {
		for _, sq := range c.Slow {
			st := sq.Stats
			fmt.Fprintf(w, "  slow %s %v: %q make=%q: %d probes, %d matched (%d passed over), %d checked, %d verified, %d candidates, second edit %v\n",
				c.Class, sq.Took.Round(time.Microsecond), sq.Query.Serial, sq.Query.Make, st.Probes, st.Matched,
				st.Passed, st.Checked, st.Verified, st.Candidates, st.SecondEdit)
		}
	}
	r.printShapes(w)
	first, flagged := 0, 0
	for _, c := range append(slices.Clone(r.Classes), r.Shaped...) {
		first += c.First
		flagged += c.FirstFlagged
	}
	if first > 0 {
		fmt.Fprintf(w, "positives whose truth ranks first: %d, of which REVIEW or HIT %.3f\n", first, float64(flagged)/float64(first))
	}
	fmt.Fprintf(w, "positives: recall@1=%.3f ceiling@1=%.3f wrong-record HITs=%.4f\n", r.Recall1, r.Ceil1, r.WrongHit)
	if r.Throughput > 0 {
		fmt.Fprintf(w, "throughput with 4 concurrent searchers: %.0f searches/s\n", r.Throughput)
	}
}

// printCounts writes one indented line, label then every key of m in order with its count (format
// takes the key and the count); nothing when m is empty.
func printCounts[K cmp.Ordered](w io.Writer, label, format string, m map[K]int) {
	if len(m) == 0 {
		return
	}
	fmt.Fprintf(w, "  %s", label)
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(w, format, k, m[k])
	}
	fmt.Fprintln(w)
}

// printShapes writes the shape tables: recall@1 and recall@10 beside their ceilings, and the share
// of queries without any result, per class (rows) and shape (columns), with the totals of every
// shape and of every class.
func (r *Report) printShapes(w io.Writer) {
	if len(r.Shaped) == 0 {
		return
	}
	cell := map[[2]string]*ClassReport{}
	for i := range r.Shaped {
		cell[[2]string{r.Shaped[i].Class, r.Shaped[i].Shape}] = &r.Shaped[i]
	}
	type sum struct{ n, r1, c1, r10, c10, none float64 }
	add := func(s *sum, c *ClassReport) {
		n := float64(c.N)
		s.n += n
		s.r1 += c.Recall1 * n
		s.c1 += c.Ceil1 * n
		s.r10 += c.Recall10 * n
		s.c10 += c.Ceil10 * n
		s.none += c.NoResult * n
	}
	for _, table := range []struct {
		title string
		val   func(s sum) string
	}{
		{"recall@1 / ceiling@1", func(s sum) string { return fmt.Sprintf("%.3f/%.3f", s.r1/s.n, s.c1/s.n) }},
		{"recall@10 / ceiling@10", func(s sum) string { return fmt.Sprintf("%.3f/%.3f", s.r10/s.n, s.c10/s.n) }},
		{"no result", func(s sum) string { return fmt.Sprintf("%.4f", s.none/s.n) }},
	} {
		fmt.Fprintf(w, "shapes, %s:\n%-11s", table.title, "class")
		for _, sh := range Shapes {
			fmt.Fprintf(w, " %12s", sh)
		}
		fmt.Fprintf(w, " %12s\n", "all")
		cols := make([]sum, len(Shapes))
		var all sum
		for _, class := range ShapeClasses {
			fmt.Fprintf(w, "%-11s", class)
			var row sum
			for i, sh := range Shapes {
				c := cell[[2]string{class, sh}]
				if c == nil || c.N == 0 {
					fmt.Fprintf(w, " %12s", "-")
					continue
				}
				var one sum
				add(&one, c)
				add(&row, c)
				add(&cols[i], c)
				add(&all, c)
				fmt.Fprintf(w, " %12s", table.val(one))
			}
			if row.n > 0 {
				fmt.Fprintf(w, " %12s", table.val(row))
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%-11s", "all")
		for _, c := range cols {
			if c.n > 0 {
				fmt.Fprintf(w, " %12s", table.val(c))
			}
		}
		if all.n > 0 {
			fmt.Fprintf(w, " %12s", table.val(all))
		}
		fmt.Fprintln(w)
	}
}
