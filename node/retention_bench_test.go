package node

import (
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/synth"
	"github.com/fedarms/fedarms/matcher"
	"github.com/fedarms/fedarms/replication"
)

// BenchmarkReviewIndex measures the review index at the register's size (1.4M records, or
// FEDARMS_BENCH_RECORDS): building it as load does (time, and heap kept per record), the cost it
// adds to each applied change, a scrape's counts and a page of the list. Every record gets a review
// date, the worst case (the synthetic register dates 30%): those without one get a date spread
// over ten years from 2020.
//
//	go test -run '^$' -bench BenchmarkReviewIndex -benchtime 1x ./node   (build)
//	go test -run '^$' -bench 'BenchmarkReviewIndex/(apply|counts|page)' ./node
func BenchmarkReviewIndex(b *testing.B) {
	size := 1_400_000
	if v := os.Getenv("FEDARMS_BENCH_RECORDS"); v != "" {
		size, _ = strconv.Atoi(v)
	}
	dated := func(g *synth.Generator, i int) record.Record {
		r := g.Next()
		if r.ReviewDate == "" {
			r.ReviewDate = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i%3650).Format(time.DateOnly)
		}
		return r
	}
	build := func() (*reviewIndex, []record.Record) {
		x := newReviewIndex()
		g := synth.New(7)
		var sample []record.Record
		for i := range size {
			r := dated(g, i)
			x.add(&r)
			if i%100 == 0 {
				sample = append(sample, record.Record{ID: r.ID, RecordingCountry: r.RecordingCountry, ReviewDate: r.ReviewDate})
			}
		}
		return x, sample
	}
	b.Run("build", func(b *testing.B) {
		for range b.N {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			t0 := time.Now()
			x, _ := build()
			took := time.Since(t0)
			runtime.GC()
			runtime.ReadMemStats(&after)
			// Generating a record costs more than filing it: time the generator alone as well.
			g := synth.New(7)
			t1 := time.Now()
			for i := range size {
				_ = dated(g, i)
			}
			gen := time.Since(t1)
			b.ReportMetric(float64(took.Milliseconds()), "build-ms")
			b.ReportMetric(float64((took-gen).Nanoseconds())/float64(size), "file-ns/record")
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MB")
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(size), "heap-B/record")
			runtime.KeepAlive(x)
			// What load pays already for the same records: the match index.
			x = nil
			g = synth.New(7)
			ix := matcher.New(referenceTables{}, matcher.Options{})
			batch := make([]matcher.Entry, 0, 8192)
			t2 := time.Now()
			for i := range size {
				r := dated(g, i)
				batch = append(batch, entryOf(&r, 1))
				if len(batch) == cap(batch) {
					ix.PutMany(batch)
					batch = batch[:0]
				}
			}
			ix.PutMany(batch)
			ix.Compact()
			b.ReportMetric(float64((time.Since(t2) - gen).Milliseconds()), "matcher-ms")
			runtime.KeepAlive(ix)
		}
	})
	x, sample := build()
	c := cutoffsAt(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), 90*24*time.Hour)
	b.Run("apply-update", func(b *testing.B) {
		// One change moving a record to another review day and back, as a renewal does.
		for i := range b.N {
			old := sample[i%len(sample)]
			renewed := old
			renewed.ReviewDate = "2031-06-30"
			x.apply([]replication.Change{{ID: old.ID, Old: &old, New: &renewed}})
			x.apply([]replication.Change{{ID: old.ID, Old: &renewed, New: &old}})
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N), "ns/change")
	})
	b.Run("counts", func(b *testing.B) {
		for range b.N {
			x.counts(c, nil)
		}
	})
	b.Run("page-first-100", func(b *testing.B) {
		for range b.N {
			x.page(noExpiry, c.due, nil, nil, 100)
		}
	})
	b.Run("page-deep-100", func(b *testing.B) {
		keys, _ := x.page(noExpiry, c.due, func(cc string) bool { return cc == "FR" }, nil, 1000)
		after := keys[len(keys)-1]
		for range b.N {
			x.page(noExpiry, c.due, func(cc string) bool { return cc == "FR" }, &after, 100)
		}
	})
	runtime.KeepAlive(x)
}
