//go:build localfed

package drills

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/testutil"
)

// TestDrillReplication (drill a): the federation is ready in under a minute; records imported at an
// NCB reach every holder with equal per-shard digests; a single record written at an NCB is
// searchable at every edge (the one holding its shard, and the one searching it on a peer) within
// one second at p99.
func TestDrillReplication(t *testing.T) {
	n := size(t, "LOCALFED_RECORDS", 100000, 10000)
	probes := size(t, "LOCALFED_PROBES", 200, 50)
	f := startFed(t, "a")
	ncb := f.node("ncb-fr")
	fr := ncb.mint(t, "FR-NCB", "FR", "recorder", "searcher")

	lines, _ := genRecords(t, f, n, 7, "FR", "FR-")
	t0 := time.Now()
	importLines(t, ncb, fr, lines, 10000)
	imported := time.Since(t0)
	measure(t, "a", "import_records", float64(n), "records")
	measure(t, "a", "import_seconds", imported.Seconds(), "s")
	measure(t, "a", "import_rate", float64(n)/imported.Seconds(), "records/s")
	holders := f.holders("europe")
	testutil.WaitFor(t, 5*time.Minute, fmt.Sprintf("%d records at every europe holder", n), func() bool {
		for _, h := range holders {
			if records(h, "europe") != uint64(n) {
				return false
			}
		}
		return true
	})
	f.waitConverged(t, time.Minute)
	all := time.Since(t0)
	measure(t, "a", "import_to_every_holder", all.Seconds(), "s")
	measure(t, "a", "every_holder_after_import_ack", (all - imported).Seconds(), "s")

	// One record at a time at the NCB; each edge polls until it finds it. The clock starts when
	// the write is sent, so the latency includes ordering it through the shard's leader.
	edges := []*nodeClient{f.node("edge-cdg"), f.node("edge-nbo")}
	tokens := []string{edges[0].mint(t, "FR-DOUANE", "FR", "searcher"), edges[1].mint(t, "KE-CUSTOMS", "KE", "searcher")}
	visible := make([][]time.Duration, len(edges))
	var writes []time.Duration
	var misses atomic.Int32
	for i := range probes {
		rec := probeRecord("FR", "P", i)
		body, _ := json.Marshal(rec)
		start := time.Now()
		code, b, err := ncb.do("POST", "/v1/records", fr, body, "")
		if err != nil || code != 201 {
			t.Fatalf("write %s at ncb-fr: %d %v %s", rec.ID, code, err, b)
		}
		writes = append(writes, time.Since(start))
		var wg sync.WaitGroup
		for e, edge := range edges {
			wg.Go(func() {
				for time.Since(start) < 10*time.Second {
					resp, err := search(edge, tokens[e], rec.Serial)
					if err == nil && resp.has(rec.ID) {
						visible[e] = append(visible[e], time.Since(start))
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
				visible[e] = append(visible[e], 10*time.Second)
				misses.Add(1)
			})
		}
		wg.Wait()
	}
	if m := misses.Load(); m > 0 {
		t.Errorf("%d probe records not found at an edge within 10s", m)
	}
	measure(t, "a", "probe_write_ack_p50", ms(quantile(writes, 0.5)), "ms")
	measure(t, "a", "probe_write_ack_p99", ms(quantile(writes, 0.99)), "ms")
	for e, edge := range edges {
		p50, p99, worst := quantile(visible[e], 0.5), quantile(visible[e], 0.99), quantile(visible[e], 1)
		measure(t, "a", "searchable_p50_at_"+edge.name, ms(p50), "ms")
		measure(t, "a", "searchable_p99_at_"+edge.name, ms(p99), "ms")
		measure(t, "a", "searchable_max_at_"+edge.name, ms(worst), "ms")
		if p99 > time.Second {
			t.Errorf("a record written at ncb-fr is searchable at %s after %v at p99, want within 1s", edge.name, p99)
		}
	}
}
