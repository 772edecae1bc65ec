//go:build localfed

package drills

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/testutil"
)

// decidedView is the part of a hit the inbox drills read besides hitView's.
type decidedView struct {
	ID         string `json:"id"`
	Decision   string `json:"decision"`
	DecidedVia string `json:"decided_via"`
}

// hitListAll pages through GET /v1/hits with the admin token and counts each hit id listed.
func (n *nodeClient) hitListAll() (map[string]int, error) {
	out := map[string]int{}
	cursor := ""
	for {
		var page struct {
			Hits   []hitView `json:"hits"`
			Cursor string    `json:"cursor"`
		}
		path := "/v1/hits?limit=1000"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if _, err := n.json("GET", path, n.admin, nil, &page); err != nil {
			return nil, err
		}
		for _, h := range page.Hits {
			out[h.ID]++
		}
		if cursor = page.Cursor; cursor == "" {
			return out, nil
		}
	}
}

// inboxProblems checks every hit of want (id -> country): listed exactly once at every central
// node and at every node of its country's NCB, never at another NCB.
func (f *fed) inboxProblems(want map[string]string) []string {
	var probs []string
	for _, name := range f.order {
		n := f.nodes[name]
		if n.role != "central" && n.role != "ncb" {
			continue
		}
		listed, err := n.hitListAll()
		if err != nil {
			return []string{fmt.Sprintf("%s: %v", name, err)}
		}
		for id, country := range want {
			k := listed[id]
			switch {
			case (n.role == "central" || n.country == country) && k != 1:
				probs = append(probs, fmt.Sprintf("%s (%s) listed %d times at %s, want once", id, country, k, name))
			case n.role == "ncb" && n.country != country && k != 0:
				probs = append(probs, fmt.Sprintf("%s (%s) listed at %s, the wrong NCB", id, country, name))
			}
		}
	}
	if len(probs) > 10 {
		probs = append(probs[:10], fmt.Sprintf("... and %d more", len(probs)-10))
	}
	return probs
}

// TestDrillGSInbox (drill i): LOCALFED_HITS (1,000; short 100) hits at both edges while the central
// node that stored the latest hit first is SIGKILLed at random moments (every 2-6 s, down 1-3 s,
// one at a time). After each hit's answer its worker polls the three central nodes until each lists
// it: that time is the GS inbox's spread, reported apart for hits whose wait overlapped a kill
// ("after a heal", counted from the killed node's restart when that came after the answer) and the
// others ("connected"). At the end every central node lists every hit
// exactly once, and every node of an NCB every hit on its country's records.
func TestDrillGSInbox(t *testing.T) {
	total := size(t, "LOCALFED_HITS", 1000, 100)
	workers := size(t, "LOCALFED_HIT_WORKERS", 2, 2)
	f := startFed(t, "i")
	targets := append(importTargets(t, f, "FR", "I", 50), importTargets(t, f, "KE", "I", 50)...)
	makers := []*hitMaker{newHitMaker(t, f, "edge-cdg"), newHitMaker(t, f, "edge-nbo")}
	centrals := f.centrals()

	var mu sync.Mutex
	want := map[string]string{}
	var connected, healed []time.Duration
	var latestFirst atomic.Value // the central node that listed the latest hit first
	var downs atomic.Int64       // kills started so far; a wait that sees it change overlapped one
	var down atomic.Bool
	var upAt atomic.Int64 // when the last killed node was ready again (unix ns)
	stop := make(chan struct{})
	var kills int
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		rng := rand.New(rand.NewPCG(12, 12))
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(2000+rng.IntN(4000)) * time.Millisecond):
			}
			name, _ := latestFirst.Load().(string)
			if name == "" {
				continue
			}
			down.Store(true)
			downs.Add(1)
			if out, err := f.localfedOut("kill", name); err != nil {
				t.Errorf("localfed kill %s: %v\n%s", name, err, out)
				return
			}
			kills++
			time.Sleep(time.Duration(1000+rng.IntN(2000)) * time.Millisecond)
			if out, err := f.localfedOut("start", name); err != nil {
				t.Errorf("localfed start %s: %v\n%s", name, err, out)
				return
			}
			upAt.Store(time.Now().UnixNano())
			down.Store(false)
		}
	}()

	var wg sync.WaitGroup
	t0 := time.Now()
	for e, m := range makers {
		for w := range workers {
			wg.Go(func() {
				for i := w; i < total/2; i += workers {
					target := targets[(i+e)%len(targets)]
					var id string
					var err error
					for try := 0; try < 5; try++ {
						if id, err = m.hit(target); err == nil {
							break
						}
						time.Sleep(200 * time.Millisecond)
					}
					if err != nil {
						t.Error(err)
						return
					}
					answered, before := time.Now(), downs.Load()
					overlapped := down.Load()
					have := map[string]bool{}
					for len(have) < len(centrals) && time.Since(answered) < 90*time.Second {
						for _, c := range centrals {
							if have[c.name] {
								continue
							}
							if _, err := c.hitGet(id); err == nil {
								if len(have) == 0 {
									latestFirst.Store(c.name)
								}
								have[c.name] = true
							}
						}
						if len(have) < len(centrals) {
							time.Sleep(10 * time.Millisecond)
						}
					}
					done := time.Now()
					overlapped = overlapped || down.Load() || downs.Load() != before
					mu.Lock()
					want[id] = target.Country
					if len(have) == len(centrals) {
						if overlapped {
							// Counted from the heal: the killed node's restart, when it came after
							// the answer.
							from := answered
							if up := time.Unix(0, upAt.Load()); up.After(from) {
								from = up
							}
							healed = append(healed, max(done.Sub(from), 0))
						} else {
							connected = append(connected, done.Sub(answered))
						}
					}
					mu.Unlock()
					if len(have) < len(centrals) {
						t.Errorf("hit %s at %d of %d central nodes 90s after its answer", id, len(have), len(centrals))
					}
				}
			})
		}
	}
	wg.Wait()
	close(stop)
	<-killerDone
	wall := time.Since(t0)
	var probs []string
	testutil.WaitFor(t, 2*time.Minute, "every central node and every NCB node to list its hits exactly once", func() bool {
		probs = f.inboxProblems(want)
		return len(probs) == 0
	})
	measure(t, "i", "hits", float64(len(want)), "hits")
	measure(t, "i", "kills", float64(kills), "kills")
	measure(t, "i", "hits_wall", wall.Seconds(), "s")
	measure(t, "i", "gs_spread_connected_n", float64(len(connected)), "hits")
	measure(t, "i", "gs_spread_connected_p50", ms(quantile(connected, 0.5)), "ms")
	measure(t, "i", "gs_spread_connected_p99", ms(quantile(connected, 0.99)), "ms")
	measure(t, "i", "gs_spread_healed_n", float64(len(healed)), "hits")
	measure(t, "i", "gs_spread_healed_p50", ms(quantile(healed, 0.5)), "ms")
	measure(t, "i", "gs_spread_healed_p99", ms(quantile(healed, 0.99)), "ms")
	if p99 := quantile(connected, 0.99); p99 > time.Second {
		t.Errorf("GS inbox spread p99 %v while connected, want under 1s", p99)
	}
	if p99 := quantile(healed, 0.99); p99 > 5*time.Second {
		t.Errorf("GS inbox spread p99 %v across a kill, want under 5s after the restart", p99)
	}
}

// TestDrillDecisionRace (drill j): LOCALFED_RACES (100; short 10) times, a hit on a FR record is
// made at edge-nbo; once both FR nodes list it, ncb-fr confirms and ncb-fr-2 denies it at the same
// moment. Exactly one must be answered 200 and the other 409 already_decided, and the winner must
// be the decision on every central node, both FR nodes and the origin.
func TestDrillDecisionRace(t *testing.T) {
	races := size(t, "LOCALFED_RACES", 100, 10)
	f := startFed(t, "j")
	targets := importTargets(t, f, "FR", "J", 50)
	maker := newHitMaker(t, f, "edge-nbo")
	fr := []*nodeClient{f.node("ncb-fr"), f.node("ncb-fr-2")}
	toks := []string{fr[0].mint(t, "FR-NCB", "FR", "recorder"), fr[1].mint(t, "FR-NCB", "FR", "recorder")}
	everyone := append([]*nodeClient{f.node("edge-nbo"), fr[0], fr[1]}, f.centrals()...)
	var settled []time.Duration
	wins := map[string]int{}
	for i := range races {
		id, err := maker.hit(targets[i%len(targets)])
		if err != nil {
			t.Fatal(err)
		}
		testutil.WaitFor(t, 30*time.Second, "both FR nodes to hold "+id, func() bool {
			_, e0 := fr[0].hitGet(id)
			_, e1 := fr[1].hitGet(id)
			return e0 == nil && e1 == nil
		})
		codes := make([]int, 2)
		bodies := make([]string, 2)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for j := range fr {
			wg.Go(func() {
				<-start
				var out map[string]any
				var err error
				codes[j], err = fr[j].json("POST", "/v1/hits/"+url.PathEscape(id)+"/decision", toks[j],
					map[string]any{"decision": []string{"confirmed", "denied"}[j]}, &out)
				bodies[j] = fmt.Sprint(out, err)
			})
		}
		t0 := time.Now()
		close(start)
		wg.Wait()
		won := -1
		switch {
		case codes[0] == 200 && codes[1] == 409:
			won = 0
		case codes[1] == 200 && codes[0] == 409:
			won = 1
		default:
			t.Fatalf("race %d on %s: ncb-fr %d %s, ncb-fr-2 %d %s; want one 200 and one 409", i, id, codes[0], bodies[0], codes[1], bodies[1])
		}
		want := []string{"confirmed", "denied"}[won]
		wins[fr[won].name]++
		testutil.WaitFor(t, 30*time.Second, fmt.Sprintf("race %d: %s on every node", i, want), func() bool {
			for _, n := range everyone {
				var h decidedView
				if _, err := n.json("GET", "/v1/hits/"+url.PathEscape(id), n.admin, nil, &h); err != nil || h.Decision != want || h.DecidedVia != fr[won].name {
					return false
				}
			}
			return true
		})
		settled = append(settled, time.Since(t0))
	}
	measure(t, "j", "races", float64(races), "races")
	measure(t, "j", "won_by_ncb_fr", float64(wins["ncb-fr"]), "races")
	measure(t, "j", "won_by_ncb_fr_2", float64(wins["ncb-fr-2"]), "races")
	measure(t, "j", "everywhere_p50", ms(quantile(settled, 0.5)), "ms")
	measure(t, "j", "everywhere_p99", ms(quantile(settled, 0.99)), "ms")
}
