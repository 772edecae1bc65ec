package node

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/synth"
	"github.com/fedarms/fedarms/node/wire"
)

// BenchmarkSearchExact times exact searches in-process: "match" is the read path (index, records,
// coverage), "search" adds the audit entry and, for a hit, the durable notification (one fsync,
// shared by concurrent searches). "negative" queries serials that are not recorded. It reports p50
// and p99 besides the mean. Set FEDARMS_BENCH_DATA to a stopped node's data dir (for example the
// one scripts/bench-import.sh leaves in bench-out/data) to run on a full load instead of the
// generated sizes. Each size runs in a plain data dir and in one encrypted at rest (atrest=).
func BenchmarkSearchExact(b *testing.B) {
	if dir := os.Getenv("FEDARMS_BENCH_DATA"); dir != "" {
		c := config.Default()
		c.DataDir = dir
		c.Audit.Durability = "async"
		n, err := Open(c, Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer n.Close()
		n.WaitReady(context.Background())
		benchSearches(b, n, serialsOf(b, n, 5000))
		return
	}
	for _, size := range []int{10000, 100000} {
		for _, mode := range atRestModes {
			benchSearchExact(b, size, mode)
		}
	}
}

func benchSearchExact(b *testing.B, size int, mode string) {
	b.Run(fmt.Sprintf("records=%d/atrest=%s", size, mode), func(b *testing.B) {
		tn := startNode(&testing.T{}, b.TempDir(), func(c *config.Config) { c.Audit.Durability = "async" }, atRestMode(mode))
		defer tn.srv.Close()
		defer tn.Close()
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		synth.WriteJSONLines(w, size, 5)
		w.Flush()
		req := httptest.NewRequest("POST", "/v1/import", &buf)
		req.Header.Set("Authorization", "Bearer "+tn.tokens["admin"])
		rec := httptest.NewRecorder()
		tn.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Body.String())
		}
		benchSearches(b, tn.Node, serialsOf(b, tn.Node, 5000))
	})
}

// serialsOf picks up to max recorded serials (with their makes) spread over the node's shards.
func serialsOf(b *testing.B, n *Node, max int) []record.Record {
	var out []record.Record
	for _, s := range n.held {
		i := 0
		n.groups[s].State().ForEach(func(r *record.Record) error {
			if i%97 == 0 && len(out) < max {
				out = append(out, *r)
			}
			i++
			return nil
		})
	}
	if len(out) == 0 {
		b.Fatal("no records")
	}
	return out
}

func benchSearches(b *testing.B, n *Node, recs []record.Record) {
	p := auth.Principal{Agency: "BENCH", Roles: []string{"searcher"}}
	ctx := context.Background()
	run := func(name string, fn func(i int)) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			ds := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				t := time.Now()
				fn(i)
				ds = append(ds, time.Since(t))
			}
			slices.Sort(ds)
			b.ReportMetric(float64(ds[len(ds)/2].Nanoseconds())/1e3, "p50-us")
			b.ReportMetric(float64(ds[len(ds)*99/100].Nanoseconds())/1e3, "p99-us")
		})
	}
	run("match", func(i int) {
		n.match(ctx, p, wire.SearchRequest{Serial: recs[i%len(recs)].Serial, Limit: 10})
	})
	run("match-with-make", func(i int) {
		r := &recs[i%len(recs)]
		n.match(ctx, p, wire.SearchRequest{Serial: r.Serial, Make: r.Make, Limit: 10})
	})
	run("match-negative", func(i int) {
		n.match(ctx, p, wire.SearchRequest{Serial: fmt.Sprintf("QZ%07dX", i), Limit: 10})
	})
	run("search", func(i int) {
		if _, err := n.Search(ctx, p, wire.SearchRequest{Serial: recs[i%len(recs)].Serial}); err != nil {
			b.Fatal(err)
		}
	})
	run("search-negative", func(i int) {
		if _, err := n.Search(ctx, p, wire.SearchRequest{Serial: fmt.Sprintf("QZ%07dX", i)}); err != nil {
			b.Fatal(err)
		}
	})
}
