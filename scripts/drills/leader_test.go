//go:build localfed

package drills

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/testutil"
)

// write is one attempt of the leader drill's writers.
type write struct {
	id         string
	start, end time.Time
	code       int // 0 when the request itself failed
	err        string
}

// writers write single records at a node until stop is closed, each attempt with a new id, and
// keep every attempt.
type writers struct {
	mu       sync.Mutex
	attempts []write // guarded by mu
	wg       sync.WaitGroup
	stop     chan struct{}
}

func startWriters(n *nodeClient, token string, count int) *writers {
	return startWritersAs(n, token, "L", count)
}

// startWritersAs is startWriters with record ids of run prefix (FR-<prefix><writer>-<n>), for
// drills that write in several phases.
func startWritersAs(n *nodeClient, token, prefix string, count int) *writers {
	w := &writers{stop: make(chan struct{})}
	for g := range count {
		w.wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-w.stop:
					return
				default:
				}
				rec := probeRecord("FR", fmt.Sprintf("%s%d", prefix, g), i)
				body, _ := json.Marshal(rec)
				a := write{id: rec.ID, start: time.Now()}
				var b []byte
				var err error
				a.code, b, err = n.do(http.MethodPost, "/v1/records", token, body, "")
				if err != nil {
					a.err = err.Error()
				} else if a.code/100 != 2 {
					a.err = string(b)
				}
				a.end = time.Now()
				w.mu.Lock()
				w.attempts = append(w.attempts, a)
				w.mu.Unlock()
				if a.code/100 != 2 {
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	return w
}

func (w *writers) finish() []write {
	close(w.stop)
	w.wg.Wait()
	sort.Slice(w.attempts, func(i, j int) bool { return w.attempts[i].end.Before(w.attempts[j].end) })
	return w.attempts
}

// TestDrillLeaderLoss (drill c): the central node leading the europe shard is killed with SIGKILL
// while an NCB writes: another central node leads within 5 s, writes resume, and every write that
// was acknowledged is present afterwards on every holder (the killed node included, once restarted).
func TestDrillLeaderLoss(t *testing.T) {
	f := startFed(t, "c")
	ncb := f.node("ncb-fr")
	fr := ncb.mint(t, "FR-NCB", "FR", "recorder", "searcher")
	ss, err := f.node("lyon-1").shardsOf()
	if err != nil {
		t.Fatal(err)
	}
	old := ss["europe"].Leader
	if old == "" {
		t.Fatal("europe has no leader")
	}
	var led []string
	for s, st := range ss {
		if st.Leader == old {
			led = append(led, s)
		}
	}
	sort.Strings(led)
	t.Logf("%s leads %v; killing it", old, led)

	w := startWriters(ncb, fr, 2)
	time.Sleep(3 * time.Second)
	// The clock starts before the script runs, so its own start-up counts against the node.
	killed := time.Now()
	f.localfed("kill", old)
	dead := time.Now() // the script returns once the process is gone

	// A new leader: every surviving central node names the same one, and it is not the dead one.
	var survivors []*nodeClient
	for _, c := range f.centrals() {
		if c.name != old {
			survivors = append(survivors, c)
		}
	}
	var leader string
	elected := testutil.WaitFor(t, 30*time.Second, "a new europe leader", func() bool {
		leader = ""
		for _, c := range survivors {
			s, err := c.shardsOf()
			if err != nil || s["europe"].Leader == "" || s["europe"].Leader == old || (leader != "" && s["europe"].Leader != leader) {
				return false
			}
			leader = s["europe"].Leader
		}
		return true
	})
	measure(t, "c", "new_leader_after_kill", elected.Seconds(), "s")
	if elected > 5*time.Second {
		t.Errorf("new europe leader %s after %v, want within 5s", leader, elected)
	}
	time.Sleep(5 * time.Second)
	attempts := w.finish()

	var acked []string
	var resumed, gap time.Duration
	var lastAck time.Time
	failures := map[int]int{}
	for _, a := range attempts {
		if a.code/100 != 2 {
			failures[a.code]++
			if failures[a.code] <= 3 {
				t.Logf("write %s failed %v after the kill (took %v): %d %s", a.id, a.start.Sub(killed), a.end.Sub(a.start), a.code, a.err)
			}
			continue
		}
		acked = append(acked, a.id)
		if !lastAck.IsZero() && a.end.Sub(lastAck) > gap {
			gap = a.end.Sub(lastAck)
		}
		lastAck = a.end
		if resumed == 0 && a.start.After(dead) {
			resumed = a.end.Sub(killed)
		}
	}
	t.Logf("%d write attempts, %d acknowledged, failures by status (0 = no answer): %v", len(attempts), len(acked), failures)
	measure(t, "c", "writes_acknowledged", float64(len(acked)), "writes")
	measure(t, "c", "writes_failed", float64(len(attempts)-len(acked)), "writes")
	measure(t, "c", "writes_resumed_after_kill", resumed.Seconds(), "s")
	measure(t, "c", "longest_gap_between_acks", gap.Seconds(), "s")
	if resumed == 0 {
		t.Fatal("no write started after the kill was acknowledged")
	}

	f.localfed("start", old)
	f.waitConverged(t, 2*time.Minute)
	for _, name := range []string{leader, old, "ncb-fr", "edge-cdg"} {
		n := f.node(name)
		lost := 0
		for _, id := range acked {
			if code, _, err := n.do(http.MethodGet, "/v1/records/"+id, n.admin, nil, ""); err != nil || code != 200 {
				lost++
				if lost <= 5 {
					t.Errorf("acknowledged record %s missing at %s: %d %v", id, name, code, err)
				}
			}
		}
		if lost > 0 {
			t.Errorf("%d of %d acknowledged records missing at %s", lost, len(acked), name)
		}
	}
}
