//go:build localfed

package drills

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/testutil"
)

// writeLoad is what a drill writes while an edge is away: FR records imported at ncb-fr in chunks,
// some KE records at ncb-ke (so both of the edge's shards move), then deletes of FR records one at
// a time. progress counts the FR records acknowledged so far.
type writeLoad struct {
	fr, ke   string // the NCBs' tokens
	frLines  [][]byte
	keLines  [][]byte
	deletes  []string
	progress atomic.Int64
}

// run writes everything and returns the first error.
func (w *writeLoad) run(f *fed) error {
	ncbFR, ncbKE := f.node("ncb-fr"), f.node("ncb-ke")
	const chunk = 1000
	for i := 0; i < len(w.frLines); i += chunk {
		part := w.frLines[i:min(i+chunk, len(w.frLines))]
		if err := importLinesErr(ncbFR, w.fr, part, chunk); err != nil {
			return err
		}
		w.progress.Add(int64(len(part)))
	}
	if err := importLinesErr(ncbKE, w.ke, w.keLines, chunk); err != nil {
		return err
	}
	for _, id := range w.deletes {
		code, b, err := ncbFR.do(http.MethodDelete, "/v1/records/"+id, w.fr, nil, "")
		if err != nil || code != http.StatusNoContent {
			return fmt.Errorf("delete %s at ncb-fr: %d %v %s", id, code, err, b)
		}
	}
	return nil
}

// catchUp waits until the federation has converged after n came back at since, and reports when
// n's applied index first moved (before that, n waits for the leader to retry it) and when every
// holder agreed.
func (f *fed) catchUp(t *testing.T, n *nodeClient, since time.Time) (moved, converged time.Duration) {
	t.Helper()
	var start map[string]shardStatus
	for {
		if ss, err := n.shardsOf(); err == nil {
			if start == nil {
				start = ss
			}
			for shard, s := range ss {
				if moved == 0 && s.AppliedIndex > start[shard].AppliedIndex {
					moved = time.Since(since)
				}
			}
		}
		diff := f.convergence()
		if diff == "" {
			if moved == 0 {
				moved = time.Since(since)
			}
			return moved, time.Since(since)
		}
		if time.Since(since) > 5*time.Minute {
			t.Fatalf("%s not converged 5 minutes after it came back: %s", n.name, diff)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDrillEdgeOutage (drill b): an edge killed with SIGKILL, and separately an edge cut off while
// running, while records are written and deleted: after restart or heal it converges to the central
// nodes' per-shard digests (the time is reported), and while cut it keeps answering searches from
// its copy, marked stale once max_staleness has passed.
func TestDrillEdgeOutage(t *testing.T) {
	writes := size(t, "LOCALFED_WRITES", 50000, 5000)
	deletes := size(t, "LOCALFED_DELETES", 1000, 200)
	f := startFed(t, "b")
	ncbFR, ncbKE, edge := f.node("ncb-fr"), f.node("ncb-ke"), f.node("edge-cdg")
	fr := ncbFR.mint(t, "FR-NCB", "FR", "recorder", "searcher")
	ke := ncbKE.mint(t, "KE-NCB", "KE", "recorder", "searcher")
	douane := edge.mint(t, "FR-DOUANE", "FR", "searcher")

	t.Run("kill", func(t *testing.T) {
		frLines, frIDs := genRecords(t, f, writes, 11, "FR", "FR-K-")
		keLines, _ := genRecords(t, f, writes/10, 12, "KE", "KE-K-")
		// Half the deletes hit records the edge held before it died, half records it never saw.
		dels := append(append([]string{}, frIDs[:deletes/2]...), frIDs[len(frIDs)-(deletes-deletes/2):]...)
		w := &writeLoad{fr: fr, ke: ke, frLines: frLines, keLines: keLines, deletes: dels}
		done := make(chan error, 1)
		t0 := time.Now()
		go func() { done <- w.run(f) }()
		testutil.WaitFor(t, 5*time.Minute, "a tenth of the writes", func() bool { return w.progress.Load() >= int64(writes/10) })
		testutil.WaitFor(t, time.Minute, "the edge to hold what was written so far", func() bool { return records(edge, "europe") >= uint64(writes/10) })
		f.localfed("kill", "edge-cdg")
		killedAt := time.Since(t0)
		t.Logf("edge-cdg killed after %d of %d records were acknowledged (%v into the load)", w.progress.Load(), writes, killedAt)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		measure(t, "b", "kill_load_seconds", time.Since(t0).Seconds(), "s")
		f.waitConverged(t, 2*time.Minute, "edge-cdg")

		t1 := time.Now()
		f.localfed("start", "edge-cdg")
		ready := time.Since(t1)
		moved, conv := f.catchUp(t, edge, t1)
		measure(t, "b", "kill_restart_ready", ready.Seconds(), "s")
		measure(t, "b", "kill_restart_first_progress", moved.Seconds(), "s")
		measure(t, "b", "kill_restart_converged", conv.Seconds(), "s")
		if got, want := records(edge, "europe"), uint64(writes-deletes); got != want {
			t.Errorf("edge-cdg holds %d europe records after restart, want %d", got, want)
		}
	})

	t.Run("cut", func(t *testing.T) {
		f.waitConverged(t, 2*time.Minute)
		// A record the edge held before the cut, to search for during it.
		known := probeRecord("FR", "CUT", 0)
		if _, err := ncbFR.json("POST", "/v1/records", fr, known, nil); err != nil {
			t.Fatal(err)
		}
		testutil.WaitFor(t, 30*time.Second, "the known record at the edge", func() bool {
			r, err := search(edge, douane, known.Serial)
			return err == nil && r.has(known.ID)
		})
		before := records(edge, "europe")
		frLines, frIDs := genRecords(t, f, writes, 21, "FR", "FR-C-")
		keLines, _ := genRecords(t, f, writes/10, 22, "KE", "KE-C-")
		dels := append(append([]string{}, frIDs[:deletes/2]...), frIDs[len(frIDs)-(deletes-deletes/2):]...)
		w := &writeLoad{fr: fr, ke: ke, frLines: frLines, keLines: keLines, deletes: dels}

		f.localfed("cut", "edge-cdg")
		cutAt := time.Now()
		done := make(chan error, 1)
		go func() { done <- w.run(f) }()

		// Search the edge throughout: every answer must come, with the known record, and say the
		// copy is stale once max_staleness has passed since the cut.
		var lat []time.Duration
		var staleAfter time.Duration
		failures := 0
		var loadErr error
		loadDone := false
		for !loadDone || staleAfter == 0 || time.Since(cutAt) < f.maxStaleness+2*time.Second {
			s0 := time.Now()
			r, err := search(edge, douane, known.Serial)
			lat = append(lat, time.Since(s0))
			switch {
			case err != nil || !r.has(known.ID):
				failures++
				if failures <= 3 {
					t.Errorf("search at the cut edge %v after the cut: %v (results %+v)", time.Since(cutAt), err, r)
				}
			default:
				if _, stale := r.stale("europe"); stale && staleAfter == 0 {
					staleAfter = time.Since(cutAt)
				}
			}
			select {
			case loadErr = <-done:
				loadDone = true
				done = nil
			default:
			}
			if time.Since(cutAt) > 10*time.Minute {
				t.Fatalf("cut phase still running after 10 minutes (load done %v, stale after %v)", loadDone, staleAfter)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if loadErr != nil {
			t.Fatal(loadErr)
		}
		measure(t, "b", "cut_searches", float64(len(lat)), "searches")
		measure(t, "b", "cut_search_failures", float64(failures), "searches")
		measure(t, "b", "cut_search_p50", ms(quantile(lat, 0.5)), "ms")
		measure(t, "b", "cut_search_p99", ms(quantile(lat, 0.99)), "ms")
		measure(t, "b", "cut_stale_after", staleAfter.Seconds(), "s")
		if staleAfter == 0 || staleAfter > f.maxStaleness+5*time.Second {
			t.Errorf("stale seen %v after the cut, want soon after max_staleness (%v)", staleAfter, f.maxStaleness)
		}
		if staleAfter > 0 && staleAfter < f.maxStaleness-time.Second {
			t.Errorf("stale already %v after the cut, before max_staleness (%v)", staleAfter, f.maxStaleness)
		}
		if got := records(edge, "europe"); got != before {
			t.Errorf("the cut edge's europe copy changed from %d to %d records during the cut", before, got)
		}
		f.waitConverged(t, 2*time.Minute, "edge-cdg")

		t1 := time.Now()
		f.localfed("heal", "edge-cdg")
		moved, conv := f.catchUp(t, edge, t1)
		measure(t, "b", "cut_heal_first_progress", moved.Seconds(), "s")
		measure(t, "b", "cut_heal_converged", conv.Seconds(), "s")
		r, err := search(edge, douane, known.Serial)
		if err != nil {
			t.Fatal(err)
		}
		if _, stale := r.stale("europe"); stale {
			t.Errorf("europe still stale at the edge after heal and convergence")
		}
		if got, want := records(edge, "europe"), before+uint64(writes-deletes); got != want {
			t.Errorf("edge-cdg holds %d europe records after heal, want %d", got, want)
		}
	})
}
