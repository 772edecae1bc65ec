package node

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/fedplan"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
)

// lateSpecs: three central nodes, the NCB of Kenya (africa) and an edge in Paris that holds
// europe alone.
func lateSpecs() []fedplan.MemberSpec {
	return []fedplan.MemberSpec{
		{Name: "lyon-1", Role: "central", Shards: []string{"*"}},
		{Name: "lyon-2", Role: "central", Shards: []string{"*"}},
		{Name: "lyon-3", Role: "central", Shards: []string{"*"}},
		{Name: "ncb-ke", Role: "ncb", Country: "KE", Shards: []string{"africa"}},
		{Name: "edge-cdg", Role: "edge", Country: "FR", Shards: []string{"europe"}},
	}
}

var customs = auth.Principal{Agency: "FR-CUSTOMS", Roles: []string{"searcher"}}

// searchNothing searches at the edge for a serial no record has yet (no hit) and returns the search id.
func (fc *fedCluster) searchNothing(at, serial string) string {
	fc.t.Helper()
	resp, err := fc.nodes[at].Search(context.Background(), customs, wire.SearchRequest{Serial: serial, Make: "glock"})
	if err != nil {
		fc.t.Fatal(err)
	}
	for _, r := range resp.Results {
		if r.Hit {
			fc.t.Fatalf("search for %s at %s is a hit on %s, want none", serial, at, r.ID)
		}
	}
	return resp.SearchID
}

// handedTo says whether each central node keeps want searches handed over by origin.
func (fc *fedCluster) handedTo(origin string, want int, names ...string) bool {
	for _, c := range names {
		if fc.nodes[c].late.fed.handed.counts()[origin] != want {
			return false
		}
	}
	return true
}

// hitsOn counts, on node name, the hits on recordID that p sees.
func (fc *fedCluster) hitsOn(name string, p auth.Principal, recordID string) []notify.Hit {
	page, err := fc.nodes[name].Hits(p, wire.HitFilter{Limit: 1000})
	if err != nil {
		return nil
	}
	var out []notify.Hit
	for _, h := range page.Hits {
		if h.RecordID == recordID {
			out = append(out, h)
		}
	}
	return out
}

// lateHitEverywhere waits until the late hit of search on recordID is at the edge (seen by the
// searching agency), on every central node and at the recording NCB, once on each.
func (fc *fedCluster) lateHitEverywhere(edge, searchID, recordID, ncb string) notify.Hit {
	fc.t.Helper()
	id := lateHitID(edge, searchID, recordID)
	ke := auth.Principal{Agency: "KE-NCB", Country: "KE", Roles: []string{"recorder"}}
	where := map[string]auth.Principal{edge: customs, ncb: ke}
	for _, c := range centrals {
		where[c] = fc.admin()
	}
	var got notify.Hit
	testutil.WaitFor(fc.t, 90*time.Second, "the late hit at the edge, every central node and the NCB", func() bool {
		for name, p := range where {
			hs := fc.hitsOn(name, p, recordID)
			if len(hs) != 1 || hs[0].ID != id || !hs[0].Late || hs[0].Agency != customs.Agency || hs[0].SearchID != searchID || hs[0].SearchOrigin != edge {
				return false
			}
			if name == edge {
				got = hs[0]
			}
		}
		return true
	})
	return got
}

func TestFederationLateMatchInAShardTheEdgeDoesNotHold(t *testing.T) {
	fc := startFederation(t, lateSpecs(), nil)
	ke := auth.Principal{Agency: "KE-NCB", Country: "KE", Roles: []string{"recorder"}}
	search := fc.searchNothing("edge-cdg", fmtSerial("KE", 7))
	testutil.WaitFor(t, 60*time.Second, "every central node to keep the search", func() bool {
		return fc.handedTo("edge-cdg", 1, centrals...) && fc.nodes["edge-cdg"].handoversQueued() == 0
	})

	// Every central node restarted in between (one after the other) reads its window back from
	// node.db: whichever one makes the late hit, it re-checks a search it was not told again.
	for _, c := range centrals {
		fc.restart(c, nil)
		if got := fc.nodes[c].late.fed.handed.counts()["edge-cdg"]; got != 1 {
			t.Fatalf("%s after a restart keeps %d searches of edge-cdg, want 1", c, got)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := fc.nodes[c].WaitReady(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}

	t0 := time.Now()
	fc.importAt("ncb-ke", ke, fedRecords("KE", 7, 8))
	h := fc.lateHitEverywhere("edge-cdg", search, "KE-000007", "ncb-ke")
	t.Logf("the late hit at the edge, the three central nodes and the NCB %v after the record's import began", time.Since(t0).Round(time.Millisecond))
	if h.Receipts[notify.RoleOrigin] == "" || h.Origin == "edge-cdg" {
		t.Fatalf("the edge's copy: %+v", h)
	}
	// The central node that made it audited its match, naming the searching node.
	entries, _ := fc.nodes[h.Origin].audit.Tail(200)
	audited := false
	for _, e := range entries {
		audited = audited || (e.Action == "search.late" && len(e.ResultIDs) > 0 && e.ResultIDs[0] == "KE-000007" && e.Agency == customs.Agency)
	}
	if !audited {
		t.Errorf("%s, which made the late hit, did not audit it", h.Origin)
	}
	// The hit made by whichever central node was committed first is delivered from that node
	// alone: the NCB and the edge hold it once, and its outbox empties.
	owner := fc.nodes[h.Origin]
	testutil.WaitFor(t, 60*time.Second, "the owner's outbox to empty", func() bool {
		got, _ := owner.hits.Get(h.ID)
		return got.Delivered()
	})

	// The NCB's decision reaches the searching node.
	if _, err := fc.nodes["ncb-ke"].Decide(context.Background(), ke, h.ID, wire.DecisionRequest{Decision: "confirmed"}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 60*time.Second, "the decision at the edge", func() bool {
		got, err := fc.nodes["edge-cdg"].hits.Get(h.ID)
		return err == nil && got.Decision == notify.Confirmed
	})
	for name := range fc.nodes {
		if hs := fc.hitsOn(name, fc.admin(), "KE-000007"); len(hs) > 1 {
			t.Fatalf("%s holds %d hits on KE-000007", name, len(hs))
		}
	}
	// The central nodes whose copy lost drop theirs, and the owner forgets it once decided.
	testutil.WaitFor(t, 30*time.Second, "every central node's late_out to empty", func() bool {
		for _, c := range centrals {
			if out, _, _ := fc.nodes[c].lateOutItems(nil, 100); len(out) != 0 {
				return false
			}
		}
		return true
	})
}

func TestFederationLateHandOverWaitsForTheLink(t *testing.T) {
	fc := startFederation(t, lateSpecs(), nil)
	edge := fc.nodes["edge-cdg"]
	edge.fed.faults.Isolate(edge.fed.id.ID)
	search := fc.searchNothing("edge-cdg", fmtSerial("KE", 3))
	testutil.WaitFor(t, 30*time.Second, "the cut edge to queue its search", func() bool { return edge.handoversQueued() == 1 })
	// A search made before the window (the edge was away for longer) is dropped, not sent.
	edge.queueHandovers(lateHandover{SearchID: "s-old", At: edge.now().Add(-73 * time.Hour), Agency: customs.Agency, Origin: "edge-cdg",
		Shards: []string{"africa"}, Request: wire.SearchRequest{Serial: fmtSerial("KE", 4), Limit: 10}})
	time.Sleep(3 * time.Second) // wall clock: a cut edge must not reach anyone meanwhile
	if !fc.handedTo("edge-cdg", 0, centrals...) || edge.handoversQueued() > 2 {
		t.Fatal("the search left the cut edge")
	}
	edge.fed.faults.Rejoin(edge.fed.id.ID)
	took := testutil.WaitFor(t, 60*time.Second, "the search handed over once the link returns", func() bool {
		return fc.handedTo("edge-cdg", 1, centrals...) && edge.handoversQueued() == 0
	})
	t.Logf("the queued search at every central node %v after the link returned", took.Round(time.Millisecond))

	// Cut again, a search, and a crash before its hand-over was written: the node starts again
	// (connected) and queues it from the window the audit log rebuilt.
	edge.fed.faults.Isolate(edge.fed.id.ID)
	lost := fc.searchNothing("edge-cdg", fmtSerial("KE", 5))
	testutil.WaitFor(t, 30*time.Second, "the cut edge to queue its second search", func() bool { return edge.handoversQueued() == 1 })
	first, _ := edge.late.search(search)
	fc.restart("edge-cdg", func() { forgetHandovers(t, fc, "edge-cdg", first.At) })
	edge = fc.nodes["edge-cdg"]
	testutil.WaitFor(t, 60*time.Second, "the lost hand-over made again after the restart", func() bool {
		return fc.handedTo("edge-cdg", 2, centrals...) && edge.handoversQueued() == 0
	})

	fc.importAt("ncb-ke", auth.Principal{Agency: "KE-NCB", Country: "KE", Roles: []string{"recorder"}}, fedRecords("KE", 3, 6))
	fc.lateHitEverywhere("edge-cdg", search, "KE-000003", "ncb-ke")
	fc.lateHitEverywhere("edge-cdg", lost, "KE-000005", "ncb-ke")

	// A central node of an earlier release does not speak the protocol: skipped, not waited for.
	fc.nodes["lyon-3"].fed.host.P2P().RemoveStreamHandler(transport.ProtoLate)
	older := fc.searchNothing("edge-cdg", fmtSerial("KE", 8))
	testutil.WaitFor(t, 60*time.Second, "the search kept by the two central nodes that speak the protocol", func() bool {
		return fc.handedTo("edge-cdg", 3, "lyon-1", "lyon-2") && fc.handedTo("edge-cdg", 2, "lyon-3") && edge.handoversQueued() == 0
	})
	fc.importAt("ncb-ke", auth.Principal{Agency: "KE-NCB", Country: "KE", Roles: []string{"recorder"}}, fedRecords("KE", 8, 9))
	fc.lateHitEverywhere("edge-cdg", older, "KE-000008", "ncb-ke")
	for name := range fc.nodes {
		if hs := fc.hitsOn(name, fc.admin(), "KE-000004"); len(hs) != 0 {
			t.Fatalf("%s holds a late hit for a search made before the window", name)
		}
	}
}

// TestFederationLateHostileHandOvers: a member on the roster hands over searches in another's
// name, malformed ones and more than its share: each is refused, nothing panics, and the other
// member's searches stay.
func TestFederationLateHostileHandOvers(t *testing.T) {
	const share = 20
	fc := startFederation(t, []fedplan.MemberSpec{
		{Name: "lyon-1", Role: "central", Shards: []string{"*"}},
		{Name: "edge-cdg", Role: "edge", Country: "FR", Shards: []string{"europe"}},
		{Name: "edge-nbo", Role: "edge", Country: "KE", Shards: []string{"africa"}},
	}, func(c *config.Config) { c.Notify.LateMaxSearches = share })
	lyon := fc.nodes["lyon-1"]
	for i := 0; i < 5; i++ {
		fc.searchNothing("edge-cdg", fmtSerial("KE", i))
	}
	testutil.WaitFor(t, 60*time.Second, "lyon-1 to keep edge-cdg's searches", func() bool { return fc.handedTo("edge-cdg", 5, "lyon-1") })

	nbo := fc.nodes["edge-nbo"]
	lyonID := lyon.fed.id.ID
	send := func(searches ...lateHandover) (lateAnswer, error) {
		var ans lateAnswer
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := nbo.fed.call(ctx, lyonID, transport.ProtoLate, lateMessage{Kind: "handover", Searches: searches}, &ans)
		return ans, err
	}
	now := time.Now().UTC()
	good := func(i int) lateHandover {
		return lateHandover{SearchID: fmt.Sprintf("s-flood-%04d", i), At: now, Agency: "KE-POLICE", Origin: "edge-nbo",
			Shards: []string{"europe"}, Request: wire.SearchRequest{Serial: fmtSerial("FR", i)}}
	}
	refusals := func(reason string) float64 {
		return refusalCount(lyon, transport.ProtoLate, reason)
	}
	bad := []struct {
		name string
		edit func(*lateHandover)
		want wire.Kind
	}{
		{"in another member's name", func(h *lateHandover) { h.Origin = "edge-cdg"; h.SearchID = "s-mine" }, wire.Forbidden},
		{"oversized serial", func(h *lateHandover) { h.Request.Serial = string(make([]byte, 300)) }, wire.Invalid},
		{"unknown shard", func(h *lateHandover) { h.Shards = []string{"atlantis"} }, wire.Invalid},
		{"shard named twice", func(h *lateHandover) { h.Shards = []string{"europe", "europe"} }, wire.Invalid},
		{"from the future", func(h *lateHandover) { h.At = now.Add(time.Hour) }, wire.Invalid},
		{"too many found", func(h *lateHandover) { h.Found = make([]string, 101) }, wire.Invalid},
		{"no search id", func(h *lateHandover) { h.SearchID = "" }, wire.Invalid},
	}
	for _, b := range bad {
		h := good(9999)
		b.edit(&h)
		if _, err := send(h); err == nil || wire.As(err).Kind != b.want {
			t.Errorf("%s: %v, want a refusal of kind %v", b.name, err, b.want)
		}
	}
	if _, err := send(make([]lateHandover, lateBatch+1)...); err == nil {
		t.Error("a hand-over over the batch bound was taken")
	}
	if refusals("wrong_sender") < 1 || refusals("malformed") < 6 {
		t.Errorf("refusals counted: wrong_sender %v, malformed %v", refusals("wrong_sender"), refusals("malformed"))
	}

	// The flood: five hand-overs of lateBatch each; edge-nbo keeps its share, the rest is refused.
	refused := 0
	for round := 0; round < 5; round++ {
		var batch []lateHandover
		for i := 0; i < lateBatch; i++ {
			batch = append(batch, good(round*lateBatch+i))
		}
		ans, err := send(batch...)
		if err != nil {
			t.Fatal(err)
		}
		refused += len(ans.Refused)
	}
	if got := lyon.late.fed.handed.counts(); got["edge-nbo"] != share || got["edge-cdg"] != 5 {
		t.Fatalf("window after the flood: %v, want edge-nbo at its share (%d) and edge-cdg's 5 kept", got, share)
	}
	if refused != 5*lateBatch-share || refusals("over_share") < 1 {
		t.Fatalf("%d refused beyond the share (counted %v), want %d", refused, refusals("over_share"), 5*lateBatch-share)
	}
	if got := lateWindowGauge(lyon, "edge-nbo"); got != share {
		t.Errorf("fedarms_late_window_searches{origin=edge-nbo} = %v, want %d", got, share)
	}
	// The honest edge still hands over (its own share is untouched).
	fc.searchNothing("edge-cdg", fmtSerial("KE", 50))
	testutil.WaitFor(t, 60*time.Second, "edge-cdg's next search kept", func() bool { return fc.handedTo("edge-cdg", 6, "lyon-1") })

	// A late hit given to a node by a member that did not make it, or for a search it never made.
	h := notify.Hit{ID: "h-forged", RecordID: "KE-000001", RecordingCountry: "KE", SearchID: "s-none", Origin: "edge-nbo", Agency: customs.Agency, Late: true, SearchOrigin: "edge-cdg"}
	var ans lateAnswer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := nbo.fed.call(ctx, fc.nodes["edge-cdg"].fed.id.ID, transport.ProtoLate, lateMessage{Kind: "hit", Hit: &h}, &ans); err == nil || wire.As(err).Kind != wire.Forbidden {
		t.Fatalf("a late hit from an edge: %v, want forbidden", err)
	}
	h.Origin = "lyon-1"
	if err := lyon.fed.call(ctx, fc.nodes["edge-cdg"].fed.id.ID, transport.ProtoLate, lateMessage{Kind: "hit", Hit: &h}, &ans); err == nil || wire.As(err).Kind != wire.Forbidden {
		t.Fatalf("a late hit for a search never made: %v, want forbidden", err)
	}
	if hs := fc.hitsOn("edge-cdg", customs, "KE-000001"); len(hs) != 0 {
		t.Fatalf("edge-cdg stored a forged late hit: %+v", hs)
	}
}

// lateWindowGauge reads fedarms_late_window_searches{origin} on n.
func lateWindowGauge(n *Node, origin string) float64 {
	mfs, _ := n.met.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "fedarms_late_window_searches" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "origin" && l.GetValue() == origin {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}

// forgetHandovers empties name's hand-over queue and sets its mark back to at, as a crash between
// a later search and the write of its hand-over leaves them.
func forgetHandovers(t *testing.T, fc *fedCluster, name string, at time.Time) {
	t.Helper()
	for _, c := range fc.layout.Configs {
		if c.Name != name {
			continue
		}
		db, err := bolt.Open(filepath.Join(c.DataDir, "node.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		err = db.Update(func(tx *bolt.Tx) error {
			if err := tx.DeleteBucket(bucketLateHandover); err != nil {
				return err
			}
			return tx.Bucket(bucketLateHandoverMeta).Put([]byte("through"), []byte(at.UTC().Format(time.RFC3339Nano)))
		})
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("no member %s", name)
}
