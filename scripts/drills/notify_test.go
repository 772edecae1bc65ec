//go:build localfed

package drills

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/testutil"
)

// TestDrillHits (drill e): 1,000 searches at two edges (half each), each a hit on a FR or KE
// record. Each worker searches, then polls the hit at its origin until both the GS and the NCB
// receipt are in: that poll time (from the answer) is the delivery latency reported; the lag
// computed from the receipts' timestamps minus searched_at is reported beside it. Then every inbox
// is checked: each hit once at the right NCB, at a central node, never at the other NCB.
func TestDrillHits(t *testing.T) {
	total := size(t, "LOCALFED_HITS", 1000, 100)
	workers := size(t, "LOCALFED_HIT_WORKERS", 8, 4)
	f := startFed(t, "e")
	targets := append(importTargets(t, f, "FR", "H", 50), importTargets(t, f, "KE", "H", 50)...)
	makers := []*hitMaker{newHitMaker(t, f, "edge-cdg"), newHitMaker(t, f, "edge-nbo")}

	var mu sync.Mutex
	want := map[string]string{}
	var polled []time.Duration
	var wg sync.WaitGroup
	t0 := time.Now()
	for e, m := range makers {
		for w := range workers {
			wg.Go(func() {
				for i := w; i < total/2; i += workers {
					target := targets[(i+e)%len(targets)]
					id, err := m.hit(target)
					if err != nil {
						t.Error(err)
						return
					}
					d, err := m.pollDelivered(id, 30*time.Second)
					mu.Lock()
					want[id] = target.Country
					if err == nil {
						polled = append(polled, d)
					}
					mu.Unlock()
					if err != nil {
						t.Error(err)
					}
				}
			})
		}
	}
	wg.Wait()
	wall := time.Since(t0)
	if t.Failed() {
		t.FailNow()
	}
	lags := f.originLags(t, want)
	measure(t, "e", "hits", float64(len(want)), "hits")
	measure(t, "e", "hits_wall", wall.Seconds(), "s")
	measure(t, "e", "delivery_polled_p50", ms(quantile(polled, 0.5)), "ms")
	measure(t, "e", "delivery_polled_p99", ms(quantile(polled, 0.99)), "ms")
	measure(t, "e", "delivery_polled_max", ms(quantile(polled, 1)), "ms")
	measure(t, "e", "delivery_receipts_p50", ms(quantile(lags, 0.5)), "ms")
	measure(t, "e", "delivery_receipts_p99", ms(quantile(lags, 0.99)), "ms")
	measure(t, "e", "delivery_receipts_max", ms(quantile(lags, 1)), "ms")
	if p99 := quantile(polled, 0.99); p99 > time.Second {
		t.Errorf("delivery p99 %v, want under 1s", p99)
	}
	requireDelivery(t, f, "e", want)
}

// TestDrillHitsCut (drill f): edge-cdg cut off from every member makes hits (its shards are local,
// so the searches are answered); none reaches another node while cut; the cut is held long enough
// for the retry backoff to grow (LOCALFED_CUT_HOLD seconds, 20) and then healed: every hit is
// delivered exactly once, and the time from the heal to the last receipt is reported.
func TestDrillHitsCut(t *testing.T) {
	n := size(t, "LOCALFED_CUT_HITS", 200, 50)
	hold := time.Duration(size(t, "LOCALFED_CUT_HOLD", 20, 5)) * time.Second
	f := startFed(t, "f")
	targets := append(importTargets(t, f, "FR", "C", 25), importTargets(t, f, "KE", "C", 25)...)
	m := newHitMaker(t, f, "edge-cdg")

	f.localfed("cut", "edge-cdg")
	cutAt := time.Now()
	want := map[string]string{}
	var searches []time.Duration
	for i := range n {
		target := targets[i%len(targets)]
		s0 := time.Now()
		id, err := m.hit(target)
		if err != nil {
			t.Fatalf("hit %d while cut: %v", i, err)
		}
		searches = append(searches, time.Since(s0))
		want[id] = target.Country
	}
	measure(t, "f", "cut_hits", float64(n), "hits")
	measure(t, "f", "cut_search_p50", ms(quantile(searches, 0.5)), "ms")
	measure(t, "f", "cut_search_p99", ms(quantile(searches, 0.99)), "ms")
	if u, err := f.undelivered(want); err != nil || len(u) != n {
		t.Fatalf("while cut, %d of %d hits undelivered at the origin (%v), want all", len(u), n, err)
	}
	if in, err := f.snapshotInboxes("edge-cdg"); err == nil {
		for node, ids := range in {
			for id := range want {
				if ids[id] > 0 {
					t.Errorf("hit %s reached %s through the cut", id, node)
				}
			}
		}
	}
	if rest := hold - time.Since(cutAt); rest > 0 {
		time.Sleep(rest)
	}
	measure(t, "f", "cut_held", time.Since(cutAt).Seconds(), "s")
	f.localfed("heal", "edge-cdg")
	healed := f.waitDelivered(t, 2*time.Minute, want)
	measure(t, "f", "heal_to_last_receipt", healed.Seconds(), "s")
	if healed > 5*time.Second {
		t.Errorf("last receipt %v after the heal, want under 5s", healed)
	}
	requireDelivery(t, f, "f", want)
}

// TestDrillHitsKill (drill g): SIGKILL of the origin right after a hit's answer (in half the rounds
// the edge is cut first, so the hit cannot have left before the kill), and of the recipient NCB
// right after it stored a hit (more hits are made while it is down): after restart every hit is
// delivered, and each is stored once per recipient.
func TestDrillHitsKill(t *testing.T) {
	rounds := size(t, "LOCALFED_KILLS", 4, 2)
	f := startFed(t, "g")
	fr := importTargets(t, f, "FR", "K", 20)
	ke := importTargets(t, f, "KE", "K", 20)
	want := map[string]string{}

	t.Run("origin", func(t *testing.T) {
		for r := range rounds {
			m := newHitMaker(t, f, "edge-cdg") // tokens survive a restart, but mint per round anyway
			if r%2 == 1 {
				f.localfed("cut", "edge-cdg")
			}
			target := []hitTarget{fr[r%len(fr)], ke[r%len(ke)]}[r%2]
			id, err := m.hit(target)
			if err != nil {
				t.Fatal(err)
			}
			f.localfed("kill", "edge-cdg")
			want[id] = target.Country
			t0 := time.Now()
			f.localfed("start", "edge-cdg")
			ready := time.Since(t0)
			d, err := m.pollDelivered(id, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			measure(t, "g", fmt.Sprintf("origin_kill_%d_restart_ready", r), ready.Seconds(), "s")
			measure(t, "g", fmt.Sprintf("origin_kill_%d_delivered_after_ready", r), ms(d), "ms")
		}
	})

	t.Run("recipient", func(t *testing.T) {
		ncb := f.node("ncb-fr")
		makers := []*hitMaker{newHitMaker(t, f, "edge-cdg"), newHitMaker(t, f, "edge-nbo")}
		for r := range rounds {
			m := makers[r%2]
			id, err := m.hit(fr[r%len(fr)])
			if err != nil {
				t.Fatal(err)
			}
			want[id] = "FR"
			testutil.WaitFor(t, 30*time.Second, "hit stored at ncb-fr", func() bool {
				_, err := ncb.hitGet(id)
				return err == nil
			})
			f.localfed("kill", "ncb-fr")
			for i := range 10 { // hits for the dead NCB, waiting in the outboxes
				id, err := makers[i%2].hit(fr[(r+i+1)%len(fr)])
				if err != nil {
					t.Fatal(err)
				}
				want[id] = "FR"
			}
			t0 := time.Now()
			f.localfed("start", "ncb-fr")
			ready := time.Since(t0)
			d := f.waitDelivered(t, time.Minute, want)
			measure(t, "g", fmt.Sprintf("ncb_kill_%d_restart_ready", r), ready.Seconds(), "s")
			measure(t, "g", fmt.Sprintf("ncb_kill_%d_delivered_after_ready", r), d.Seconds(), "s")
		}
	})
	requireDelivery(t, f, "g", want)
}

// chaos is the fault schedule of drill h: which members are down and which edges have cuts.
type chaos struct {
	f    *fed
	rng  *rand.Rand
	down map[string]bool
	cut  map[string]bool
	log  []string
}

// step makes one seeded fault: kill a member (at most two down, at most one central), start a
// down one, cut an edge from everyone or from one member, or heal an edge.
func (c *chaos) step(t *testing.T) {
	t.Helper()
	edges := []string{"edge-cdg", "edge-nbo"}
	switch op := c.rng.IntN(5); {
	case op == 1 && len(c.down) > 0, op == 0 && len(c.down) >= 2:
		for _, name := range c.f.order {
			if c.down[name] {
				c.do(t, "start", name)
				delete(c.down, name)
				delete(c.cut, name)
				return
			}
		}
	case op == 0:
		name := c.f.order[c.rng.IntN(len(c.f.order))]
		if c.down[name] || (c.f.nodes[name].role == "central" && c.centralsDown() > 0) {
			return
		}
		c.do(t, "kill", name)
		c.down[name] = true
	case op == 2 || op == 3:
		edge := edges[c.rng.IntN(2)]
		if c.down[edge] {
			return
		}
		if op == 2 {
			c.do(t, "cut", edge)
		} else {
			peer := c.f.order[c.rng.IntN(len(c.f.order))]
			if peer == edge {
				return
			}
			c.do(t, "cut", edge, peer)
		}
		c.cut[edge] = true
	default:
		for _, edge := range edges {
			if c.cut[edge] && !c.down[edge] {
				c.do(t, "heal", edge)
				delete(c.cut, edge)
				return
			}
		}
	}
}

func (c *chaos) centralsDown() int {
	k := 0
	for name := range c.down {
		if c.f.nodes[name].role == "central" {
			k++
		}
	}
	return k
}

func (c *chaos) do(t *testing.T, args ...string) {
	t.Helper()
	c.f.localfed(args...)
	c.log = append(c.log, strings.Join(args, " "))
}

// settle starts every down member and heals both edges (which lifts every cut on every side).
func (c *chaos) settle(t *testing.T) {
	t.Helper()
	for _, name := range c.f.order {
		if c.down[name] {
			c.do(t, "start", name)
		}
	}
	c.down = map[string]bool{}
	for _, edge := range []string{"edge-cdg", "edge-nbo"} {
		c.do(t, "heal", edge)
	}
}

// TestDrillHitsChaos (drill h): for LOCALFED_CHAOS_SECONDS (90) both edges search for hits while a
// seeded schedule (LOCALFED_SEED, 1) kills and restarts members and cuts and heals the edges. After
// everything is restarted and healed, every hit any origin holds (answered or not: a search whose
// answer was lost to a kill may still have made one) is delivered, once per recipient.
func TestDrillHitsChaos(t *testing.T) {
	seed := size(t, "LOCALFED_SEED", 1, 1)
	dur := time.Duration(size(t, "LOCALFED_CHAOS_SECONDS", 90, 30)) * time.Second
	perEdge := size(t, "LOCALFED_CHAOS_HITS", 100, 40) / 2
	f := startFed(t, "h")
	targets := append(importTargets(t, f, "FR", "X", 20), importTargets(t, f, "KE", "X", 20)...)
	makers := []*hitMaker{newHitMaker(t, f, "edge-cdg"), newHitMaker(t, f, "edge-nbo")}
	t.Logf("seed %d", seed)

	var mu sync.Mutex
	answered := map[string]string{}
	var failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for e, m := range makers {
		rng := rand.New(rand.NewPCG(uint64(seed), uint64(e+1)))
		wg.Go(func() {
			tick := time.NewTicker(dur / time.Duration(perEdge))
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				target := targets[rng.IntN(len(targets))]
				id, err := m.hit(target)
				if err != nil {
					failed.Add(1) // the edge is down, or cut from the shard it searches remotely
					continue
				}
				mu.Lock()
				answered[id] = target.Country
				mu.Unlock()
			}
		})
	}
	c := &chaos{f: f, rng: rand.New(rand.NewPCG(uint64(seed), 0)), down: map[string]bool{}, cut: map[string]bool{}}
	t0 := time.Now()
	for time.Since(t0) < dur {
		time.Sleep(time.Duration(1500+c.rng.IntN(3000)) * time.Millisecond)
		c.step(t)
	}
	close(stop)
	wg.Wait()
	t1 := time.Now()
	c.settle(t)
	t.Logf("fault schedule: %s", strings.Join(c.log, "; "))

	want := map[string]string{}
	for _, edge := range []string{"edge-cdg", "edge-nbo"} {
		hits, err := f.node(edge).hitList("")
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hits {
			if h.Origin == edge {
				want[h.ID] = h.RecordingCountry
			}
		}
	}
	for id, country := range answered {
		if _, ok := want[id]; !ok {
			t.Errorf("hit %s (%s) was answered but its origin does not hold it", id, country)
			want[id] = country
		}
	}
	measure(t, "h", "faults", float64(len(c.log)), "actions")
	measure(t, "h", "hits_answered", float64(len(answered)), "hits")
	measure(t, "h", "hits_at_origins", float64(len(want)), "hits")
	measure(t, "h", "searches_failed", float64(failed.Load()), "searches")
	settled := f.waitDelivered(t, 3*time.Minute, want)
	measure(t, "h", "settle_to_last_receipt", settled.Seconds(), "s")
	measure(t, "h", "end_of_faults_to_last_receipt", time.Since(t1).Seconds(), "s")
	requireDelivery(t, f, "h", want)
}
