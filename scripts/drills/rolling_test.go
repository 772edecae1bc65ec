//go:build localfed

package drills

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/testutil"
)

// rollingLoad is what runs while nodes are swapped: single-record writes at both NCBs, deletes of
// records imported beforehand, and hit-making searches at both edges. Every attempt is kept; only
// acknowledged ones are checked afterwards.
type rollingLoad struct {
	mu      sync.Mutex
	acked   map[string]string // record id -> shard, guarded by mu
	deleted []string          // acknowledged deletes, guarded by mu
	hits    map[string]string // hit id -> recording country, guarded by mu
	failed  map[string]int    // what failed, by kind, guarded by mu
	stop    chan struct{}
	wg      sync.WaitGroup
}

func (l *rollingLoad) fail(kind string) {
	l.mu.Lock()
	l.failed[kind]++
	l.mu.Unlock()
	time.Sleep(50 * time.Millisecond)
}

func (l *rollingLoad) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

// startRollingLoad starts the writers, the deleter and the searchers.
func startRollingLoad(t *testing.T, f *fed, tokens map[string]string, doomed []string, targets []hitTarget) *rollingLoad {
	l := &rollingLoad{acked: map[string]string{}, hits: map[string]string{}, failed: map[string]int{}, stop: make(chan struct{})}
	for _, w := range []struct{ node, shard string }{{"ncb-fr", "europe"}, {"ncb-ke", "africa"}} {
		n := f.node(w.node)
		l.wg.Go(func() {
			for i := 0; !l.stopped(); i++ {
				rec := probeRecord(strings.ToUpper(n.country), "RW", i)
				body, _ := json.Marshal(rec)
				code, _, err := n.do(http.MethodPost, "/v1/records", tokens[w.node], body, "")
				if err != nil || code != http.StatusCreated {
					l.fail("write")
					continue
				}
				l.mu.Lock()
				l.acked[rec.ID] = w.shard
				l.mu.Unlock()
			}
		})
	}
	l.wg.Go(func() {
		ncb := f.node("ncb-fr")
		for _, id := range doomed {
			for !l.stopped() {
				code, _, err := ncb.do(http.MethodDelete, "/v1/records/"+id, tokens["ncb-fr"], nil, "")
				if err == nil && code == http.StatusNoContent {
					l.mu.Lock()
					l.deleted = append(l.deleted, id)
					l.mu.Unlock()
					time.Sleep(20 * time.Millisecond)
					break
				}
				l.fail("delete")
			}
		}
	})
	for e, edge := range []string{"edge-cdg", "edge-nbo"} {
		m := newHitMaker(t, f, edge)
		l.wg.Go(func() {
			for i := e; !l.stopped(); i++ {
				target := targets[i%len(targets)]
				id, err := m.hit(target)
				if err != nil {
					l.fail("search")
					continue
				}
				l.mu.Lock()
				l.hits[id] = target.Country
				l.mu.Unlock()
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
	return l
}

func (l *rollingLoad) finish() {
	close(l.stop)
	l.wg.Wait()
}

// TestDrillRollingUpgrade: a federation started on the earlier release (earlierRelease), every
// node replaced by the current one in turn (edges, NCBs, then the central nodes; stop, swap the
// binary, start) while records are written and deleted at both NCBs and both edges make hits:
// nothing acknowledged is lost, no acknowledged delete comes back, the digests end equal and every
// hit is delivered once to its NCB and the GS. Then the upgrade is finalized and format 2 written;
// an earlier binary then started on an upgraded node's data dir halts the shard at the first
// format-2 entry (its data dir format has not changed, so it starts), and the current binary on
// the same dir resumes it. Not in CI (LOCALFED_SHORT=1 runs it in a couple of minutes).
func TestDrillRollingUpgrade(t *testing.T) {
	old := earlierBins(t)
	cur := currentBins(t)
	f := startFedEnv(t, "rolling", "LOCALFED_BIN="+old)
	f.env = []string{"LOCALFED_BIN=" + cur}
	tokens := map[string]string{}
	for _, n := range []string{"ncb-fr", "ncb-ke"} {
		c := f.node(n)
		tokens[n] = c.mint(t, strings.ToUpper(c.country)+"-NCB", c.country, "recorder", "searcher")
	}
	targets := append(importTargets(t, f, "FR", "RT", 20), importTargets(t, f, "KE", "RT", 20)...)
	ndel := size(t, "LOCALFED_DELETES", 1000, 100)
	var lines [][]byte
	var doomed []string
	for i := range ndel {
		r := probeRecord("FR", "RD", i)
		b, _ := json.Marshal(r)
		lines = append(lines, b)
		doomed = append(doomed, r.ID)
	}
	importLines(t, f.node("ncb-fr"), tokens["ncb-fr"], lines, 500)
	f.waitConverged(t, time.Minute)

	load := startRollingLoad(t, f, tokens, doomed, targets)
	t0 := time.Now()
	for _, name := range []string{"edge-cdg", "edge-nbo", "ncb-fr", "ncb-ke", "lyon-1", "lyon-2", "lyon-3"} {
		time.Sleep(2 * time.Second) // the load runs on each mixed state for a moment
		d := f.swap(cur, name)
		measure(t, "rolling", "swap_"+name, d.Seconds(), "s")
	}
	time.Sleep(2 * time.Second)
	load.finish()
	measure(t, "rolling", "roll_seconds", time.Since(t0).Seconds(), "s")
	measure(t, "rolling", "writes_acknowledged", float64(len(load.acked)), "writes")
	measure(t, "rolling", "deletes_acknowledged", float64(len(load.deleted)), "deletes")
	measure(t, "rolling", "hits_made", float64(len(load.hits)), "hits")
	t.Logf("failed attempts while nodes were swapped, by kind: %v", load.failed)
	if len(load.acked) == 0 || len(load.hits) == 0 {
		t.Fatalf("the load made %d writes and %d hits", len(load.acked), len(load.hits))
	}
	measure(t, "rolling", "converged_after_roll", f.waitConverged(t, 2*time.Minute).Seconds(), "s")
	ms, err := f.node("lyon-1").members()
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range ms {
		if m.Version == earlierReleaseName || !m.FormatsReported {
			t.Fatalf("%s still on the earlier release after the roll: %+v", name, m)
		}
	}
	for _, name := range []string{"lyon-3", "ncb-fr", "ncb-ke", "edge-cdg", "edge-nbo"} {
		n := f.node(name)
		lost, back := 0, 0
		for id, shard := range load.acked {
			if !n.holds(shard) {
				continue
			}
			if code, _, err := n.do(http.MethodGet, "/v1/records/"+id, n.admin, nil, ""); err != nil || code != http.StatusOK {
				lost++
			}
		}
		if n.holds("europe") {
			for _, id := range load.deleted {
				if code, _, err := n.do(http.MethodGet, "/v1/records/"+id, n.admin, nil, ""); err != nil || code != http.StatusNotFound {
					back++
				}
			}
		}
		if lost > 0 || back > 0 {
			t.Errorf("%s: %d acknowledged writes missing, %d acknowledged deletes present", name, lost, back)
		}
	}
	measure(t, "rolling", "hits_delivered_seconds", f.waitDelivered(t, time.Minute, load.hits).Seconds(), "s")
	requireDelivery(t, f, "rolling", load.hits)

	// Finalize, then an earlier binary on an upgraded data dir.
	lyon := f.node("lyon-1")
	testutil.WaitFor(t, time.Minute, "finalize to be possible", func() bool {
		st, err := lyon.upgrade()
		return err == nil && st.CanFinalize
	})
	if code, body, err := lyon.do("POST", "/v1/federation/upgrade/finalize", lyon.admin, []byte("{}"), ""); err != nil || code != 200 {
		t.Fatalf("finalize: %d %v %s", code, err, body)
	}
	testutil.WaitFor(t, time.Minute, "every member to write command format 2", func() bool {
		ms, err := lyon.members()
		if err != nil {
			return false
		}
		for _, m := range ms {
			if m.Formats["raft_command"].Writes != 2 {
				return false
			}
		}
		return true
	})
	f.localfed("stop", "edge-cdg")
	f.startOn(old, "edge-cdg")
	cdg := f.node("edge-cdg")
	fr := probeRecord("FR", "RF", 0)
	body, _ := json.Marshal(fr)
	if code, b, err := f.node("ncb-fr").do(http.MethodPost, "/v1/records", tokens["ncb-fr"], body, ""); err != nil || code != http.StatusCreated {
		t.Fatalf("write after finalize: %d %v %s", code, err, b)
	}
	var halts map[string]string
	testutil.WaitFor(t, time.Minute, "europe to halt at edge-cdg on the earlier release", func() bool {
		halts, err = cdg.halts()
		return err == nil && halts["europe"] != ""
	})
	t.Logf("edge-cdg on %s after finalize: europe halted: %s", earlierReleaseName, halts["europe"])
	if !strings.Contains(halts["europe"], "format 2") {
		t.Fatalf("edge-cdg's halt: %q", halts)
	}
	// A GET of the record at edge-cdg would be answered from a peer; its own copy stays behind.
	if here, there := records(cdg, "europe"), records(lyon, "europe"); here+1 != there {
		t.Fatalf("the halted copy at edge-cdg holds %d europe records, lyon-1 %d: want one fewer", here, there)
	}
	f.swap(cur, "edge-cdg")
	measure(t, "rolling", "converged_after_finalize", f.waitConverged(t, 2*time.Minute).Seconds(), "s")
	if code, _, err := cdg.do(http.MethodGet, "/v1/records/"+fr.ID, cdg.admin, nil, ""); err != nil || code != http.StatusOK {
		t.Fatalf("edge-cdg on the current release lacks %s: %d %v", fr.ID, code, err)
	}
}
