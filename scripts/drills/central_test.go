//go:build localfed

package drills

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// centralStatus is the part of GET /v1/federation/central the drills read.
type centralStatus struct {
	Members []string `json:"members"`
	Groups  []struct {
		Group  string   `json:"group"`
		Voters []string `json:"voters"`
	} `json:"groups"`
	Change string `json:"change"`
}

// reload reads federation.json again after the script changed the members: new members are
// added, tokens read again (a replaced node wrote a new one), removed members dropped.
func (f *fed) reload() {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, "federation.json"))
	if err != nil {
		f.t.Fatal(err)
	}
	var fj fedJSON
	if err := json.Unmarshal(b, &fj); err != nil {
		f.t.Fatal(err)
	}
	hc, err := clientFor(fj.CAFile)
	if err != nil {
		f.t.Fatal(err)
	}
	f.nodes, f.order = map[string]*nodeClient{}, nil
	for _, n := range fj.Nodes {
		tok, err := os.ReadFile(n.TokenFile)
		if err != nil {
			f.t.Fatalf("token of %s: %v", n.Name, err)
		}
		f.nodes[n.Name] = &nodeClient{name: n.Name, role: n.Role, country: n.Country, api: n.API, shards: n.Shards,
			log: n.Log, admin: strings.TrimSpace(string(tok)), hc: hc}
		f.order = append(f.order, n.Name)
	}
}

// checkVoters checks that every central node sees exactly want as the voters of every group, with
// no change in progress.
func (f *fed) checkVoters(t *testing.T, want ...string) {
	t.Helper()
	slices.Sort(want)
	for _, c := range f.centrals() {
		var st centralStatus
		if code, err := c.json(http.MethodGet, "/v1/federation/central", c.admin, nil, &st); err != nil || code != 200 {
			t.Fatalf("central status at %s: %d %v", c.name, code, err)
		}
		if st.Change != "" || !slices.Equal(st.Members, want) || len(st.Groups) < 2 {
			t.Errorf("%s: members %v, change %q; want voters %v", c.name, st.Members, st.Change, want)
		}
		for _, g := range st.Groups {
			if !slices.Equal(g.Voters, want) {
				t.Errorf("%s sees %s voted by %v, want %v", c.name, g.Group, g.Voters, want)
			}
		}
	}
}

// checkAcked checks that every acknowledged write is held by each of the nodes named.
func (f *fed) checkAcked(t *testing.T, attempts []write, names ...string) int {
	t.Helper()
	var acked []string
	for _, a := range attempts {
		if a.code/100 == 2 {
			acked = append(acked, a.id)
		}
	}
	for _, name := range names {
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
	return len(acked)
}

// TestDrillCentralReplace (drill e): a central node's machine is lost while an NCB writes (agent
// killed, data dir and identity deleted); `localfed replace` removes the old identity from every
// group and has a new one join under its name. Three voters again in every group, nothing
// acknowledged lost, every holder converged.
func TestDrillCentralReplace(t *testing.T) {
	f := startFed(t, "e")
	ncb := f.node("ncb-fr")
	fr := ncb.mint(t, "FR-NCB", "FR", "recorder", "searcher")
	w := startWriters(ncb, fr, 2)
	time.Sleep(3 * time.Second) // writes acknowledged before the loss too
	t0 := time.Now()
	out := f.localfed("replace", "lyon-3")
	took := time.Since(t0)
	t.Logf("localfed replace lyon-3 (%v):\n%s", took.Round(time.Millisecond), out)
	measure(t, "e", "replace_lost_central", took.Seconds(), "s")
	f.reload()
	f.checkVoters(t, "lyon-1", "lyon-2", "lyon-3")
	time.Sleep(3 * time.Second) // and after it
	attempts := w.finish()
	conv := f.waitConverged(t, 2*time.Minute)
	measure(t, "e", "converged_after_replace", conv.Seconds(), "s")
	acked := f.checkAcked(t, attempts, "lyon-1", "lyon-2", "lyon-3", "ncb-fr", "edge-cdg")
	measure(t, "e", "writes_acknowledged", float64(acked), "writes")
	measure(t, "e", "writes_failed", float64(len(attempts)-acked), "writes")
}

// TestDrillCentralGrowShrink (drill f): two central nodes added one after the other while an NCB
// writes (3 -> 5 voters in every group), then removed again (5 -> 3); nothing acknowledged lost.
func TestDrillCentralGrowShrink(t *testing.T) {
	f := startFed(t, "f")
	ncb := f.node("ncb-fr")
	fr := ncb.mint(t, "FR-NCB", "FR", "recorder", "searcher")
	w := startWriters(ncb, fr, 2)
	voters := []string{"lyon-1", "lyon-2", "lyon-3"}
	for _, name := range []string{"lyon-4", "lyon-5"} {
		t0 := time.Now()
		out := f.localfed("add", name, "--role", "central")
		took := time.Since(t0)
		t.Logf("localfed add %s (%v):\n%s", name, took.Round(time.Millisecond), out)
		measure(t, "f", "add_"+name, took.Seconds(), "s")
		voters = append(voters, name)
		f.reload()
		f.checkVoters(t, voters...)
	}
	for _, name := range []string{"lyon-5", "lyon-4"} {
		t0 := time.Now()
		out := f.localfed("remove", name)
		took := time.Since(t0)
		t.Logf("localfed remove %s (%v):\n%s", name, took.Round(time.Millisecond), out)
		measure(t, "f", "remove_"+name, took.Seconds(), "s")
		voters = voters[:len(voters)-1]
		f.reload()
		f.checkVoters(t, voters...)
	}
	attempts := w.finish()
	f.waitConverged(t, 2*time.Minute)
	acked := f.checkAcked(t, attempts, "lyon-1", "lyon-2", "lyon-3", "ncb-fr")
	measure(t, "f", "writes_acknowledged", float64(acked), "writes")
	measure(t, "f", "writes_failed", float64(len(attempts)-acked), "writes")
}
