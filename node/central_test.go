package node

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/fedplan"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// writer orders FR records through one member, in batches, until stopped, and keeps the ids of
// every batch that was acknowledged.
type writer struct {
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	acked []string // guarded by mu
	fails int      // guarded by mu
}

func startWriter(n *Node, prefix string) *writer {
	w := &writer{stop: make(chan struct{}), done: make(chan struct{})}
	p := principalOf(auth.Principal{Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder"}})
	go func() {
		defer close(w.done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
			var recs []record.Record
			var ids []string
			for j := range 20 {
				id := fmt.Sprintf("%s-%05d-%02d", prefix, i, j)
				r := frRecord(id, fmt.Sprintf("%sS%05d%02d", prefix, i, j))
				recs = append(recs, r)
				ids = append(ids, id)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			res, err := n.apply(ctx, "europe", &replication.Command{Op: replication.OpUpsert, Principal: p, Records: recs})
			cancel()
			w.mu.Lock()
			if err == nil && len(res.Errors) == 0 {
				w.acked = append(w.acked, ids...)
			} else {
				w.fails++
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// finish stops the writer and returns the acknowledged ids and the number of batches refused.
func (w *writer) finish() ([]string, int) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.acked), w.fails
}

// votersAre reports whether n sees exactly want as the voters of every group it holds, with no
// change of central members in progress.
func votersAre(n *Node, want ...string) bool {
	st, err := n.CentralStatus()
	if err != nil || st.Change != "" {
		return false
	}
	slices.Sort(want)
	for _, g := range st.Groups {
		if !slices.Equal(g.Voters, want) {
			return false
		}
	}
	return len(st.Groups) > 1
}

// newCentral lays out a central member's new machine under the member's config: an empty data
// dir with a new identity, marked joined, a roster file of the members in force plus its own
// entry signed by the root key. It returns the entry.
func (cf *ctlFed) newCentral(name string, others ...string) transport.SignedEntry {
	cf.t.Helper()
	c := cf.configs[name]
	if err := os.RemoveAll(c.DataDir); err != nil {
		cf.t.Fatal(err)
	}
	id, err := transport.LoadOrCreateIdentity(c.DataDir)
	if err != nil {
		cf.t.Fatal(err)
	}
	se, err := transport.SignEntry(cf.rootPriv, transport.Entry{PeerID: id.ID, Name: name, Role: transport.RoleCentral,
		Shards: []string{transport.AllShards}, Addrs: c.Federation.Listen, Serial: uint64(time.Now().UnixNano())})
	if err != nil {
		cf.t.Fatal(err)
	}
	roster := []transport.SignedEntry{se}
	for _, o := range others {
		roster = append(roster, cf.entries[o])
	}
	c.Federation.RosterFile = filepath.Join(cf.layout.Dir, "roster-"+name+".json")
	writeRoster(cf.t, c.Federation.RosterFile, roster)
	if err := MarkJoined(c.DataDir, name, time.Now()); err != nil {
		cf.t.Fatal(err)
	}
	cf.entries[name] = se
	return se
}

// removal signs the revocation of a member's current identity.
func (cf *ctlFed) removal(name string, force bool) wire.CentralRemoval {
	cf.t.Helper()
	sr, err := transport.SignRevocation(cf.rootPriv, transport.Revocation{PeerID: cf.peer(name), Name: name, RevokedAt: time.Now(), Reason: "test"})
	if err != nil {
		cf.t.Fatal(err)
	}
	return wire.CentralRemoval{Revocation: sr, Force: force}
}

func (cf *ctlFed) remove(via, name string, force bool) answer {
	return cf.http(via).json(cf.t, "admin", "POST", "/v1/federation/central/removals", cf.removal(name, force))
}

// checkAcked checks that every acknowledged id is held by every running central node and that
// every holder of europe has the same digest.
func (cf *ctlFed) checkAcked(acked []string, nodes ...string) {
	cf.t.Helper()
	testutil.WaitFor(cf.t, 30*time.Second, "every member to converge", cf.converged)
	for _, name := range nodes {
		n := cf.nodes[name]
		missing := 0
		for _, id := range acked {
			if _, ok := n.getRecord(id); !ok {
				missing++
			}
		}
		if missing > 0 {
			cf.t.Errorf("%s lacks %d of %d acknowledged records", name, missing, len(acked))
		}
	}
}

// A central node's machine is lost (data dir and identity deleted) while writes run. It is removed
// (a silent voter: no force needed), a new identity takes its name, joins as a non-voter, catches
// up and is promoted: three voters again in every group, nothing acknowledged lost.
func TestCentralReplaceLostNode(t *testing.T) {
	cf := startControlFed(t, ctlSpecs())
	w := startWriter(cf.nodes["ncb-fr"], "FR-R")
	testutil.WaitFor(t, 10*time.Second, "the first writes", func() bool { w.mu.Lock(); defer w.mu.Unlock(); return len(w.acked) > 100 })

	// Removing a voter that answers would leave two: refused without force.
	a := cf.remove("lyon-1", "lyon-2", false)
	if code, _ := a.errorCode(t); a.status != 409 || code != "too_few_voters" {
		t.Fatalf("removing a live voter of three: %d %s", a.status, a.body)
	}

	t0 := time.Now()
	oldID := cf.peer("lyon-3")
	cf.close("lyon-3")
	delete(cf.nodes, "lyon-3")
	if err := os.RemoveAll(cf.configs["lyon-3"].DataDir); err != nil {
		t.Fatal(err)
	}
	// With lyon-3 gone, removing lyon-2 as well would leave lyon-1 alone of two: refused, forced
	// or not.
	testutil.WaitFor(t, 15*time.Second, "the control leader to count lyon-3 silent", func() bool {
		for _, n := range cf.nodes {
			if n.fed.control.IsLeader() {
				return n.fed.control.Silent("lyon-3")
			}
		}
		return false
	})
	a = cf.remove("lyon-1", "lyon-2", true)
	if code, _ := a.errorCode(t); a.status != 409 || code != "would_lose_quorum" {
		t.Fatalf("removing lyon-2 after lyon-3 was lost: %d %s", a.status, a.body)
	}
	// A silent voter may go, once the leader's calls to it have failed for a few seconds: the two
	// that answer are a majority of what is left.
	testutil.WaitFor(t, 15*time.Second, "the removal of the lost lyon-3", func() bool {
		a := cf.remove("lyon-1", "lyon-3", false)
		if a.status == 200 {
			return true
		}
		if code, _ := a.errorCode(t); code != "too_few_voters" {
			t.Fatalf("removing the lost lyon-3: %d %s", a.status, a.body)
		}
		return false
	})
	testutil.WaitFor(t, 20*time.Second, "lyon-3 out of every group", func() bool {
		return votersAre(cf.nodes["lyon-1"], "lyon-1", "lyon-2") && votersAre(cf.nodes["lyon-2"], "lyon-1", "lyon-2")
	})
	removed := time.Since(t0)

	// The new machine: a new identity under the same name, admitted, then started.
	se := cf.newCentral("lyon-3", "lyon-1", "lyon-2", "ncb-fr")
	if se.Entry.PeerID == oldID {
		t.Fatal("the new machine has the old identity")
	}
	if a := cf.http("ncb-fr").json(t, "admin", "POST", "/v1/federation/members", se); a.status != 200 {
		t.Fatalf("admitting the new lyon-3: %d %s", a.status, a.body)
	}
	if cf.open("lyon-3") == nil {
		t.FailNow()
	}
	testutil.WaitFor(t, 60*time.Second, "the new lyon-3 a voter of every group", func() bool {
		return votersAre(cf.nodes["lyon-1"], "lyon-1", "lyon-2", "lyon-3") && votersAre(cf.nodes["lyon-3"], "lyon-1", "lyon-2", "lyon-3")
	})
	took := time.Since(t0)
	acked, fails := w.finish()
	t.Logf("lost lyon-3 replaced: old identity out of every group %v after the loss, new identity a voter everywhere after %v; %d records acknowledged meanwhile, %d batches refused",
		removed.Round(time.Millisecond), took.Round(time.Millisecond), len(acked), fails)
	cf.checkAcked(acked, "lyon-1", "lyon-2", "lyon-3")
	for name, n := range cf.nodes {
		if n.fed.roster.Has(oldID) || !n.fed.control.IsRevoked(oldID.String()) {
			t.Errorf("%s still admits lyon-3's old identity", name)
		}
	}
	// The new voter counts: with lyon-2 gone, lyon-1 and the new lyon-3 still elect a leader and
	// commit writes.
	cf.close("lyon-2")
	delete(cf.nodes, "lyon-2")
	p := principalOf(auth.Principal{Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder"}})
	testutil.WaitFor(t, 30*time.Second, "a write committed by lyon-1 and the new lyon-3", func() bool {
		res, err := cf.nodes["ncb-fr"].apply(context.Background(), "europe", &replication.Command{Op: replication.OpUpsert, Principal: p, Records: fedRecords("FR", 0, 50)})
		return err == nil && len(res.Errors) == 0
	})
}

// Grow from three central members to five and shrink back while writes run: one change at a time,
// each new member a voter of every group once caught up; the removed ones, still running, vote
// nowhere.
func TestCentralGrowToFiveAndShrinkBack(t *testing.T) {
	cf := startControlFed(t, ctlSpecs(fedplan.MemberSpec{Name: "lyon-4", Role: "central", Shards: []string{"*"}},
		fedplan.MemberSpec{Name: "lyon-5", Role: "central", Shards: []string{"*"}}), "lyon-4", "lyon-5")
	w := startWriter(cf.nodes["ncb-fr"], "FR-G")
	base := []string{"lyon-1", "lyon-2", "lyon-3", "ncb-fr"}
	lyon4 := cf.newCentral("lyon-4", base...)
	lyon5 := cf.newCentral("lyon-5", append(base, "lyon-4")...)
	ncb := cf.http("ncb-fr")

	t0 := time.Now()
	if a := ncb.json(t, "admin", "POST", "/v1/federation/members", lyon4); a.status != 200 {
		t.Fatalf("admitting lyon-4: %d %s", a.status, a.body)
	}
	// lyon-4 is not up yet: its join is in progress, and a second one waits.
	a := ncb.json(t, "admin", "POST", "/v1/federation/members", lyon5)
	if code, _ := a.errorCode(t); a.status != 409 || code != "central_change_in_progress" {
		t.Fatalf("a second join during the first: %d %s", a.status, a.body)
	}
	if cf.open("lyon-4") == nil {
		t.FailNow()
	}
	four := []string{"lyon-1", "lyon-2", "lyon-3", "lyon-4"}
	testutil.WaitFor(t, 60*time.Second, "lyon-4 a voter of every group", func() bool { return votersAre(cf.nodes["lyon-1"], four...) })
	t.Logf("3 -> 4 voters in %v", time.Since(t0).Round(time.Millisecond))

	t1 := time.Now()
	// lyon-1 sees lyon-4 a voter of every group; the control leader, which decides, may see it a
	// moment later and still says the change is in progress: that answer alone is waited out.
	testutil.WaitFor(t, 30*time.Second, "lyon-5 admitted once lyon-4's join is done", func() bool {
		a := ncb.json(t, "admin", "POST", "/v1/federation/members", lyon5)
		if a.status == 200 {
			return true
		}
		if code, _ := a.errorCode(t); a.status != 409 || code != "central_change_in_progress" {
			t.Fatalf("admitting lyon-5: %d %s", a.status, a.body)
		}
		return false
	})
	if cf.open("lyon-5") == nil {
		t.FailNow()
	}
	five := append(slices.Clone(four), "lyon-5")
	testutil.WaitFor(t, 60*time.Second, "lyon-5 a voter of every group", func() bool {
		return votersAre(cf.nodes["lyon-1"], five...) && votersAre(cf.nodes["lyon-5"], five...)
	})
	t.Logf("4 -> 5 voters in %v", time.Since(t1).Round(time.Millisecond))

	// Shrink: the two new members go, one at a time, while they still run.
	t2 := time.Now()
	for i, name := range []string{"lyon-5", "lyon-4"} {
		// The control leader judges "a change in progress" from its own view of the groups' voters,
		// which may trail lyon-1's and lyon-2's by a moment: its 409 says to wait, so the test does.
		var a answer
		testutil.WaitFor(t, 30*time.Second, "the control leader to take the removal of "+name, func() bool {
			a = cf.remove("lyon-2", name, false)
			return !(a.status == 409 && strings.Contains(string(a.body), "central_change_in_progress"))
		})
		if a.status != 200 {
			t.Fatalf("removing %s: %d %s", name, a.status, a.body)
		}
		want := five[:4-i]
		testutil.WaitFor(t, 30*time.Second, name+" out of every group", func() bool {
			return votersAre(cf.nodes["lyon-1"], want...) && votersAre(cf.nodes["lyon-2"], want...)
		})
	}
	t.Logf("5 -> 3 voters in %v", time.Since(t2).Round(time.Millisecond))

	// The removed members still run, revoked: no group has them, and their raft reaches nobody,
	// so the leaders and terms of the remaining voters stay as they are.
	terms := func() map[string]uint64 {
		out := map[string]uint64{}
		n := cf.nodes["lyon-1"]
		out["control"] = n.fed.control.Term()
		for _, s := range n.held {
			out[s] = n.groups[s].Term()
		}
		return out
	}
	before := terms()
	removedIDs := map[string]peer.ID{"lyon-4": cf.peer("lyon-4"), "lyon-5": cf.peer("lyon-5")}
	cf.importAt("ncb-fr", auth.Principal{Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder"}}, fedRecords("FR", 0, 50))
	// Observe for a few election timeouts of the removed members (raft's is one second): nothing
	// to poll for, since what is checked is that nothing happens.
	deadline := time.Now().Add(4 * time.Second)
	testutil.WaitFor(t, 10*time.Second, "a few election timeouts", func() bool { return time.Now().After(deadline) })
	if after := terms(); !maps.Equal(before, after) {
		t.Errorf("terms moved while the removed members ran: %v -> %v", before, after)
	}
	for _, ng := range cf.nodes["lyon-1"].votingGroups() {
		servers, err := ng.g.Servers()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range servers {
			if s.ID == "lyon-4" || s.ID == "lyon-5" {
				t.Errorf("%s still has %s (%v)", ng.name, s.ID, s.Suffrage)
			}
		}
	}
	for name, id := range removedIDs {
		if cf.nodes["lyon-1"].fed.roster.Has(id) {
			t.Errorf("lyon-1 still admits %s", name)
		}
	}
	for _, name := range []string{"lyon-4", "lyon-5"} {
		cf.close(name)
		delete(cf.nodes, name)
	}
	acked, fails := w.finish()
	t.Logf("%d records acknowledged during the changes, %d batches refused", len(acked), fails)
	cf.checkAcked(acked, "lyon-1", "lyon-2", "lyon-3", "ncb-fr")
}
