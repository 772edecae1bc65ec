//go:build localfed

package drills

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/testutil"
)

// TestDrillMixedRelease: the earlier release (earlierRelease, built once and cached) and the
// current one in one multi-process federation. It starts on the earlier release and swaps nodes to
// the current one so that writes are forwarded from a current node to an earlier leader and from
// an earlier node to a current leader; records replicate both ways, remote search and hit delivery
// work across releases, and every copy ends equal. While earlier nodes remain, finalize is refused
// naming them, and the current leaders write command format 1 (the earlier nodes apply it all,
// none halts). Once every node runs the current release, finalize lets format 2 be written; an
// earlier binary started on a node that missed those entries halts that shard (never skips), and
// the current binary on the same data dir catches up to equal digests.
func TestDrillMixedRelease(t *testing.T) {
	old := earlierBins(t)
	cur := currentBins(t)
	per := size(t, "LOCALFED_RECORDS", 2000, 200)
	f := startFedEnv(t, "mixed", "LOCALFED_BIN="+old)
	f.env = []string{"LOCALFED_BIN=" + cur} // the current tool for stop, status and down
	lyon := f.node("lyon-1")
	ms, err := lyon.members()
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range ms {
		if m.Version != earlierReleaseName {
			t.Fatalf("%s runs %q at the start, want the earlier release %s", name, m.Version, earlierReleaseName)
		}
	}
	tokens := map[string]string{}
	for _, n := range []string{"ncb-fr", "ncb-ke"} {
		c := f.node(n)
		tokens[n] = c.mint(t, strings.ToUpper(c.country)+"-NCB", c.country, "recorder", "searcher")
	}
	round := func(name, run string, count int) []hitTarget {
		t.Helper()
		ncb := f.node(name)
		var lines [][]byte
		var out []hitTarget
		for i := range count {
			r := probeRecord(ncb.country, run, i)
			b, _ := json.Marshal(r)
			lines = append(lines, b)
			out = append(out, hitTarget{ID: r.ID, Serial: r.Serial, Make: r.Make, Country: ncb.country})
		}
		importLines(t, ncb, tokens[name], lines, 500)
		return out
	}
	oldNodes := map[string]bool{}
	for _, name := range f.order {
		oldNodes[name] = true
	}
	swapTo := func(bin, name string) {
		t.Helper()
		d := f.swap(bin, name)
		oldNodes[name] = bin == old
		measure(t, "mixed", "swap_"+name, d.Seconds(), "s")
	}

	// A current NCB and edge; lyon-1 down, so the shards' leaders are earlier central nodes.
	swapTo(cur, "ncb-fr")
	swapTo(cur, "edge-cdg")
	f.localfed("stop", "lyon-1")
	f.waitLeadersBut(t, "lyon-1")
	round("ncb-fr", "M1", per) // current -> earlier leader
	round("ncb-ke", "M1", per)
	for shard, at := range map[string]string{"europe": "ncb-fr", "africa": "ncb-ke"} {
		l, err := f.node(at).leaderOf(shard)
		if err != nil || !slices.Contains([]string{"lyon-2", "lyon-3"}, l) || !oldNodes[l] {
			t.Fatalf("%s's leader while lyon-1 is down: %q %v, want an earlier-release central node", shard, l, err)
		}
	}
	f.startOn(cur, "lyon-1")
	oldNodes["lyon-1"] = false
	swapTo(cur, "lyon-2")

	// lyon-3 (earlier) down: the leaders are current central nodes; an earlier NCB forwards to them.
	f.localfed("stop", "lyon-3")
	f.waitLeadersBut(t, "lyon-3")
	fr2 := round("ncb-fr", "M2", per)
	ke2 := round("ncb-ke", "M2", per) // earlier -> current leader
	for shard, at := range map[string]string{"europe": "ncb-fr", "africa": "ncb-ke"} {
		l, err := f.node(at).leaderOf(shard)
		if err != nil || oldNodes[l] || l == "" {
			t.Fatalf("%s's leader while lyon-3 is down: %q %v, want a current central node", shard, l, err)
		}
	}
	f.startOn(old, "lyon-3") // catches up from current leaders, which still write format 1
	d := f.waitConverged(t, 2*time.Minute)
	measure(t, "mixed", "converged_mixed", d.Seconds(), "s")
	for _, name := range f.order {
		h, err := f.node(name).halts()
		if err != nil {
			t.Fatal(err)
		}
		for shard, why := range h {
			if why != "" {
				t.Fatalf("%s (%s) halted %s in the mixed federation: %s", name, map[bool]string{true: "earlier", false: "current"}[oldNodes[name]], shard, why)
			}
		}
	}

	// Remote search both ways: ncb-fr (current) holds only europe, edge-nbo (earlier) no europe.
	for _, probe := range []struct {
		at     string
		target hitTarget
	}{{"ncb-fr", ke2[len(ke2)-1]}, {"edge-nbo", fr2[len(fr2)-1]}} {
		n := f.node(probe.at)
		tok := n.mint(t, "PROBE-"+strings.ToUpper(probe.at), n.country, "searcher")
		testutil.WaitFor(t, time.Minute, fmt.Sprintf("%s found at %s", probe.target.ID, probe.at), func() bool {
			resp, err := search(n, tok, probe.target.Serial)
			return err == nil && resp.has(probe.target.ID)
		})
	}
	// Hits across releases: an earlier edge hits a record of the current NCB's country, a current
	// edge one of the earlier NCB's.
	want := map[string]string{}
	for _, h := range []struct {
		edge   string
		target hitTarget
	}{{"edge-nbo", fr2[0]}, {"edge-cdg", ke2[0]}, {"edge-nbo", fr2[1]}, {"edge-cdg", ke2[1]}} {
		id, err := newHitMaker(t, f, h.edge).hit(h.target)
		if err != nil {
			t.Fatal(err)
		}
		want[id] = h.target.Country
	}
	measure(t, "mixed", "hits_delivered_seconds", f.waitDelivered(t, time.Minute, want).Seconds(), "s")
	requireDeliveredOnce(t, f, "mixed", want) // earlier central nodes have no shared GS inbox yet

	// Finalize is refused while earlier nodes remain, naming them.
	st, err := lyon.upgrade()
	if err != nil {
		t.Fatal(err)
	}
	if st.CanFinalize {
		t.Fatalf("finalize possible with earlier nodes in the federation: %+v", st)
	}
	for _, name := range []string{"lyon-3", "ncb-ke", "edge-nbo"} {
		if !slices.ContainsFunc(st.Blockers, func(b string) bool { return strings.HasPrefix(b, name+" ") }) {
			t.Errorf("%s (earlier release) does not block finalize: %q", name, st.Blockers)
		}
	}
	if code, body, _ := lyon.do("POST", "/v1/federation/upgrade/finalize", lyon.admin, []byte("{}"), ""); code != 409 || !strings.Contains(string(body), "upgrade_blocked") {
		t.Fatalf("finalize with earlier nodes: %d %s", code, body)
	}

	// Every node on the current release; finalize; format 2 written from then on.
	for _, name := range []string{"lyon-3", "ncb-ke", "edge-nbo"} {
		swapTo(cur, name)
	}
	// Finalize is judged by the node that takes it (lyon-2): its gossip view must have heard every
	// swapped node's new formats, which may come a refresh after lyon's.
	testutil.WaitFor(t, time.Minute, "finalize to be possible at lyon and lyon-2", func() bool {
		st, err := lyon.upgrade()
		st2, err2 := f.node("lyon-2").upgrade()
		return err == nil && st.CanFinalize && err2 == nil && st2.CanFinalize
	})
	var fin struct {
		Formats map[string]int `json:"formats"`
		Changed bool           `json:"changed"`
	}
	if _, err := f.node("lyon-2").json("POST", "/v1/federation/upgrade/finalize", f.node("lyon-2").admin, map[string]any{}, &fin); err != nil || !fin.Changed || fin.Formats["raft_command"] != 2 {
		t.Fatalf("finalize: %+v %v", fin, err)
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

	// edge-nbo misses the first format-2 entries of africa; started on the earlier release, it
	// halts that shard rather than skip them, and the current release on the same data resumes it.
	f.localfed("stop", "edge-nbo")
	round("ncb-ke", "M3", per)
	round("ncb-fr", "M3", per)
	f.waitConverged(t, 2*time.Minute, "edge-nbo")
	f.startOn(old, "edge-nbo")
	nbo := f.node("edge-nbo")
	var halts map[string]string
	testutil.WaitFor(t, time.Minute, "africa to halt at edge-nbo on the earlier release", func() bool {
		halts, err = nbo.halts()
		return err == nil && halts["africa"] != ""
	})
	if !strings.Contains(halts["africa"], "format 2") || halts["mena"] != "" {
		t.Fatalf("edge-nbo on the earlier release: %q", halts)
	}
	measure(t, "mixed", "earlier_release_halted", 1, "bool")
	t.Logf("edge-nbo on %s: africa halted: %s", earlierReleaseName, halts["africa"])
	d = f.swap(cur, "edge-nbo")
	measure(t, "mixed", "swap_back_edge-nbo", d.Seconds(), "s")
	d = f.waitConverged(t, 2*time.Minute)
	measure(t, "mixed", "converged_after_upgrade", d.Seconds(), "s")
	if h, err := nbo.halts(); err != nil || h["africa"] != "" {
		t.Fatalf("edge-nbo on the current release: %q %v", h, err)
	}
}

// waitLeadersBut waits until europe and africa have a leader other than down, as the NCBs that
// write them and the central nodes still up see it: a write sent before then would be forwarded
// to the stopped node.
func (f *fed) waitLeadersBut(t *testing.T, down string) {
	t.Helper()
	testutil.WaitFor(t, time.Minute, "leaders other than "+down, func() bool {
		for _, c := range append(f.centrals(), f.node("ncb-fr"), f.node("ncb-ke")) {
			if c.name == down {
				continue
			}
			for _, shard := range []string{"europe", "africa"} {
				if !c.holds(shard) {
					continue
				}
				if l, err := c.leaderOf(shard); err != nil || l == "" || l == down {
					return false
				}
			}
		}
		return true
	})
}
